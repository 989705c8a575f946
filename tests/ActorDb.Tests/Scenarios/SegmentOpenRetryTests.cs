using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using ActorDb.Core;
using ActorDb.Core.Storage;
using ActorDb.Storage;
using Xunit.Abstractions;
using static ActorDb.Core.Storage.SegmentProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>
/// Issue 12 item 3: a segment whose open fails (its redo.lock held by another handle, a damaged segment.meta) releases
/// every file and lock it took, reports fault OpenFailed and rejects redo with it, retries with back-off logging one line
/// when it starts (summaries every 10 s) and one when it opens, and then catches up: it never throws out of PreStart, so
/// it is not recreated in a loop.
/// </summary>
public class SegmentOpenRetryTests(ITestOutputHelper output)
    : WriterScenarioBase(output, "actordb.segment.open-retry-min = 100ms\nactordb.segment.open-retry-max = 400ms")
{
    private sealed class LogCollector : ReceiveActor
    {
        public LogCollector(ConcurrentQueue<LogEvent> events) => Receive<LogEvent>(events.Enqueue);
    }

    /// <summary>Open handles of this process on files in <paramref name="dir"/> (Linux /proc).</summary>
    private static List<string> OpenFilesIn(string dir) =>
        Directory.EnumerateFiles("/proc/self/fd").Select(fd => { try { return new FileInfo(fd).LinkTarget; } catch (IOException) { return null; } })
            .Where(t => t is not null && t.StartsWith(dir + "/", StringComparison.Ordinal)).Select(t => t!).ToList();

    [Theory]
    [InlineData("redo.lock held")]
    [InlineData("segment.meta damaged")]
    public async Task A_failed_open_releases_its_files_rejects_redo_with_the_fault_backs_off_and_opens_by_itself_once_the_cause_is_gone(string cause)
    {
        var (_, client) = await StartWriterAsync("writer-1");
        await client.CreateTableAsync(Kv);
        AssertDurable(await InsertAsync(client, 1, "before"));
        var epoch = (await client.GetStatusAsync()).Epoch;
        await StopSegmentAsync(2);
        var dir = SegmentActor.DirectoryOf(DataDir, Pg, 2);
        var events = new ConcurrentQueue<LogEvent>();
        Sys.EventStream.Subscribe(Sys.ActorOf(Props.Create(() => new LogCollector(events))), typeof(LogEvent));

        var metaPath = Path.Combine(dir, SegmentMetadata.FileName);
        var meta = File.ReadAllBytes(metaPath);
        FileStream? held = null;
        if (cause == "redo.lock held") held = new FileStream(Path.Combine(dir, SegmentLog.LockFileName), FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        else File.WriteAllBytes(metaPath, meta.Select(b => (byte)(b ^ 0xA5)).ToArray());
        try
        {
            await StartSegmentAsync(2);
            await AwaitAssertAsync(async () =>
            {
                var s = await SegmentStatusAsync(2);
                Assert.Equal(SegmentFault.OpenFailed, s.Fault);
                Assert.Contains("pg-0-2", s.Failure);
            }, Short, TimeSpan.FromMilliseconds(100));
            var rejected = await Router.Ask<RedoRejected>(new RedoBatch(Pg, 2, epoch, [], Lsn.Zero), Short);
            Assert.Equal((SegmentFault.OpenFailed, false, false), (rejected.Fault, rejected.StaleEpoch, rejected.Refused));
            // Five segments are a write quorum: commits go on.
            for (var i = 0; i < 5; i++) AssertDurable(await InsertAsync(client, 10 + i, "while pg-0-2 cannot open"));
            await Task.Delay(TimeSpan.FromSeconds(3));   // about 9 tries at 100, 200, 400, 400, ... ms
            // Nothing of the segment stays open between tries: only the test's own lock handle, if any.
            Assert.Equal(held is null ? [] : [Path.Combine(dir, SegmentLog.LockFileName)], OpenFilesIn(dir));
        }
        finally
        {
            held?.Dispose();
            if (cause != "redo.lock held") File.WriteAllBytes(metaPath, meta);
        }

        await AwaitAssertAsync(async () =>
        {
            var s = await SegmentStatusAsync(2);
            Assert.Equal(SegmentFault.None, s.Fault);
            Assert.Null(s.Failure);
        }, Short, TimeSpan.FromMilliseconds(100));
        AssertDurable(await InsertAsync(client, 20, "after"));
        var healthy = await SegmentStatusAsync(0);
        await AwaitAssertAsync(async () => Assert.True((await SegmentStatusAsync(2)).Scl >= healthy.Scl, "pg-0-2 caught up"), Short, TimeSpan.FromMilliseconds(100));

        var lines = events.Where(e => e.LogSource.Contains("pg-0-2")).Select(e => (e.LogLevel(), e.Message.ToString() ?? "")).ToList();
        foreach (var l in lines) output.WriteLine($"{l.Item1}: {l.Item2}");
        Assert.Single(lines, l => l.Item1 == LogLevel.ErrorLevel);
        Assert.Contains("cannot open", lines.Single(l => l.Item1 == LogLevel.ErrorLevel).Item2);
        Assert.DoesNotContain(lines, l => l.Item2.Contains("still cannot open"));   // 3 s: no 10 s summary was due
        var opened = Assert.Single(lines, l => l.Item2.Contains("opened after"));
        Assert.Matches(@"opened after ([5-9]|1[0-9]) failed tries", opened.Item2);   // back-off: ~9 in 3 s, not hundreds
    }
}
