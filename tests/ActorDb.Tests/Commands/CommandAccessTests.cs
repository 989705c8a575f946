using System.Text;
using ActorDb.Commands;

namespace ActorDb.Tests.Commands;

public class CommandAccessTests
{
    private static readonly string Admin = CommandAccess.NewToken(), Read = CommandAccess.NewToken();

    [Fact]
    public void A_token_authenticates_its_role_and_anything_else_none()
    {
        Assert.Equal(64, Admin.Length);
        Assert.NotEqual(Admin, Read);
        Assert.Equal(CommandRole.Admin, CommandAccess.Authenticate(Admin, Admin, Read));
        Assert.Equal(CommandRole.Read, CommandAccess.Authenticate(Read, Admin, Read));
        Assert.Null(CommandAccess.Authenticate(null, Admin, Read));
        Assert.Null(CommandAccess.Authenticate("", Admin, Read));
        Assert.Null(CommandAccess.Authenticate(Admin[..63], Admin, Read));
        Assert.Null(CommandAccess.Authenticate(Admin + "0", Admin, Read));
        Assert.Null(CommandAccess.Authenticate(Admin.ToUpperInvariant(), Admin, Read));
    }

    [Fact]
    public void The_read_role_runs_only_commands_declared_read_only()
    {
        var show = CommandDefinition.Read("show", "every member");
        var down = new CommandDefinition("down", "mark a member down");
        Assert.True(CommandAccess.MayRun(CommandRole.Read, show));
        Assert.False(CommandAccess.MayRun(CommandRole.Read, down));
        Assert.True(CommandAccess.MayRun(CommandRole.Admin, show));
        Assert.True(CommandAccess.MayRun(CommandRole.Admin, down));
        // The declaration crosses the wire, so the client's help can mark admin commands.
        var palette = new PaletteDefinition("cluster", "membership", [show, down]);
        var line = CommandWire.Encode(new CommandPalettes([palette], "node"));
        var back = Assert.IsType<CommandPalettes>(CommandWire.DecodeItem(line)).Palettes[0];
        Assert.Equal([true, false], back.Commands.Select(c => c.ReadOnly));
    }

    [Fact]
    public void A_token_file_holds_one_long_word()
    {
        Assert.Equal(Admin, CommandAccess.ParseTokenFile($"  {Admin}\n"));
        Assert.Contains("at least 32", Assert.Throws<FormatException>(() => CommandAccess.ParseTokenFile("short\n")).Message);
        Assert.Contains("0 characters", Assert.Throws<FormatException>(() => CommandAccess.ParseTokenFile("")).Message);
        Assert.Contains("one line without spaces", Assert.Throws<FormatException>(() => CommandAccess.ParseTokenFile(Admin + " " + Read)).Message);
    }

    [Fact]
    public void The_auth_request_carries_the_token_and_does_not_print_it()
    {
        var request = CommandRequest.Auth(Admin);
        Assert.Equal(request.Token, CommandWire.DecodeRequest(CommandWire.Encode(request)).Token);
        Assert.DoesNotContain(Admin, request.ToString());
        Assert.Null(CommandWire.DecodeRequest(CommandWire.Encode(CommandRequest.Describe())).Token);
    }
}

public class CommandLineReaderTests
{
    /// <summary>A stream of <paramref name="length"/> bytes of 'x' (no newline) that allocates nothing for them, and
    /// counts how many were read.</summary>
    private sealed class Endless(long length) : Stream
    {
        public long Consumed { get; private set; }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - Consumed);
            buffer.AsSpan(offset, n).Fill((byte)'x');
            Consumed += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Consumed; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Lines_come_out_whole_without_their_newline_or_carriage_return()
    {
        var reader = new CommandLineReader(new MemoryStream(Encoding.UTF8.GetBytes("a\r\n\nbé c\nunterminated")), 16);
        Assert.Equal("a", await reader.ReadLineAsync(default));
        Assert.Equal("", await reader.ReadLineAsync(default));
        Assert.Equal("bé c", await reader.ReadLineAsync(default));
        Assert.Null(await reader.ReadLineAsync(default));   // a request is a whole line
    }

    [Fact]
    public async Task A_line_of_exactly_the_bound_passes_and_one_byte_more_is_refused()
    {
        var exact = new string('y', 300);
        var reader = new CommandLineReader(new MemoryStream(Encoding.UTF8.GetBytes(exact + "\n" + exact + "y\n")), 300);
        Assert.Equal(exact, await reader.ReadLineAsync(default));
        var e = await Assert.ThrowsAsync<CommandLineTooLongException>(async () => await reader.ReadLineAsync(default));
        Assert.Equal("request line longer than 300 bytes (actordb.cmd.max-line-bytes): connection closed", e.Message);
    }

    [Fact]
    public async Task A_64_MiB_line_is_refused_after_the_bound_and_never_buffered()
    {
        var stream = new Endless(64L << 20);
        var reader = new CommandLineReader(stream, 64 << 10);
        await Assert.ThrowsAsync<CommandLineTooLongException>(async () => await reader.ReadLineAsync(default));
        Assert.True(reader.BufferBytes <= (64 << 10) + 1, $"buffer {reader.BufferBytes} bytes");
        Assert.True(stream.Consumed <= (64 << 10) + 1, $"read {stream.Consumed} bytes of the line");
    }
}
