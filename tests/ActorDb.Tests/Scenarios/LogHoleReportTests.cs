using ActorDb.Core.Storage;
using ActorDb.Storage;
using Xunit.Abstractions;

namespace ActorDb.Tests.Scenarios;

/// <summary>Issue 12, last bullet: a hole in a segment's log is reported (ERROR) at the open that finds it, recorded as
/// repaired once the segment's SCL passed every record its log held, and not reported again at later opens.</summary>
public class LogHoleReportTests(ITestOutputHelper output) : WriterScenarioBase(output)
{
    [Fact]
    public async Task A_repaired_hole_is_reported_once_not_at_every_open()
    {
        var (writer, client) = await StartWriterAsync("writer-1");
        await client.CreateTableAsync(Kv);
        for (var i = 0; i < 20; i++) AssertDurable(await InsertAsync(client, i, $"v{i}"));
        await StopSegmentAsync(1);

        // Damage the first frame of its log: valid frames follow, so it is a hole, not a tail.
        var dir = SegmentActor.DirectoryOf(DataDir, Pg, 1);
        var file = Directory.GetFiles(dir, SegmentLog.FilePrefix + "*").Order().First();
        using (var fs = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = 30;
            var b = fs.ReadByte();
            fs.Position = 30;
            fs.WriteByte((byte)(b ^ 0x5A));
        }

        // The open reports the hole once; it is recorded as repaired (once) when the durable SCL passes every record the
        // log held: at the open itself when the hole is below the checkpoint, else at the sync of the records that fill it.
        await EventFilter.Info(contains: "hole(s) are repaired").ExpectOneAsync(async () =>
        {
            await EventFilter.Error(contains: "corrupt record in").ExpectOneAsync(async () =>
            {
                await StartSegmentAsync(1);
                await SegmentStatusAsync(1);   // opened
            });
            for (var i = 20; i < 25; i++) AssertDurable(await InsertAsync(client, i, $"v{i}"));
            await AwaitConditionAsync(() => Task.FromResult(File.Exists(Path.Combine(dir, RepairedHoles.FileName))), Short);
        });

        await StopSegmentAsync(1);
        await EventFilter.Error(contains: "corrupt record in").ExpectAsync(0, async () =>
        {
            await StartSegmentAsync(1);
            await SegmentStatusAsync(1);   // opened
        });
        await StopWriterAsync(writer);
    }
}
