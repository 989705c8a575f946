using Akka.Actor;
using Akka.Configuration;
using ActorDb.Client;
using ActorDb.Recovery;
using ActorDb.Writer;
using Xunit.Abstractions;
using static ActorDb.Core.Storage.SegmentProtocol;
using static ActorDb.Writer.WriterProtocol;

namespace ActorDb.Tests.Scenarios;

/// <summary>
/// A writer (run by its <see cref="RecoverySupervisor"/>) and the six segments of one PG in a local (non-cluster)
/// TestKit actor system: supervisor and writer address the segments through a <see cref="SegmentRouter"/>, so a test
/// can stop, restart, blackhole or hold single segments.
/// </summary>
public abstract class WriterScenarioBase : Akka.TestKit.Xunit2.TestKit
{
    protected const int Pg = 0;
    protected static readonly TimeSpan Short = TimeSpan.FromSeconds(10);
    protected static readonly TableSchema Kv = new("kv", [new ColumnDef("id", ColumnType.Int64), new ColumnDef("v", ColumnType.String)]);

    private static readonly Config SystemConfig = ConfigurationFactory.ParseString(
        "akka.actor.provider = local\nakka.loglevel = INFO\nakka.log-dead-letters = off\nakka.log-dead-letters-during-shutdown = off");

    private readonly TestDirectory _dir = new();

    protected WriterScenarioBase(ITestOutputHelper output) : this(output, "") { }

    /// <summary>With <paramref name="extraHocon"/> (ActorDb keys) over the scenario's settings, e.g. smaller checkpoints, and
    /// the segments on <paramref name="storage"/> (a <see cref="ActorDb.Core.Storage.FaultyStorage"/>; the disk when null).</summary>
    protected WriterScenarioBase(ITestOutputHelper output, string extraHocon, ActorDb.Core.Storage.IStorage? storage = null) : base(SystemConfig, output: output)
    {
        var settings = ActorDbSettings.Create(ConfigurationFactory.ParseString(
                extraHocon + "\n" +
                $"actordb.data-dir = \"{_dir.Path}\"\n" +
                "actordb.volume.pg-count = 1\n" +
                "actordb.writer.stall-warning-after = 500ms\n" +
                "actordb.writer.resend-after = 300ms")
            .WithFallback(ActorDbSettings.DefaultConfig()));
        Settings = storage is null ? settings : settings with { Segment = settings.Segment with { Storage = storage } };
        Router = Sys.ActorOf(SegmentRouter.Props(Settings, Faults), "segments");
        // Segments find their PG's peers (catch-up) where a node finds the shard region.
        Akka.Hosting.ActorRegistry.For(Sys).Register<ActorDb.Hosting.SegmentRegionKey>(Router);
    }

    protected ActorDbSettings Settings { get; }
    protected IActorRef Router { get; }
    protected SegmentFaults Faults { get; } = new();
    protected string DataDir => _dir.Path;

    /// <summary>Starts a recovery supervisor named <paramref name="name"/> (it recovers the volume, then runs the
    /// writer) and waits until its writer serves. Returns the supervisor and a client of it.</summary>
    protected async Task<(IActorRef Supervisor, ActorDbClient Client)> StartWriterAsync(string name, TimeSpan? openTimeout = null)
    {
        var (supervisor, client) = StartSupervisor(name);
        await client.WaitUntilServingAsync(openTimeout ?? TimeSpan.FromSeconds(20));
        return (supervisor, client);
    }

    /// <summary>Starts a recovery supervisor without waiting for its recovery.</summary>
    protected (IActorRef Supervisor, ActorDbClient Client) StartSupervisor(string name)
    {
        var supervisor = Sys.ActorOf(RecoverySupervisor.Props(Settings, Router), name);
        return (supervisor, new ActorDbClient(supervisor, TimeSpan.FromSeconds(10)));
    }

    /// <summary>The writer a supervisor runs now.</summary>
    protected async Task<RecoveryProtocol.CurrentWriter> WriterOfAsync(IActorRef supervisor) =>
        await supervisor.Ask<RecoveryProtocol.CurrentWriter>(RecoveryProtocol.GetWriter.Instance, Short);

    /// <summary>Clean stop: drain the writer through its supervisor, then stop the supervisor (and so the writer) and
    /// wait for it to terminate.</summary>
    protected async Task StopWriterAsync(IActorRef supervisor)
    {
        var drained = await supervisor.Ask<Drained>(Drain.Instance, Short);
        Assert.Equal(0, drained.CommitsNotDurable);
        await KillAsync(supervisor);
    }

    /// <summary>Stops an actor at once (no drain: for a supervisor, a crash of it and its writer) and waits until it has terminated.</summary>
    protected async Task KillAsync(IActorRef actor)
    {
        var watcher = CreateTestProbe();
        watcher.Watch(actor);
        Sys.Stop(actor);
        await watcher.ExpectTerminatedAsync(actor, Short);
    }

    protected Task StopSegmentAsync(int replica) => Router.Ask<SegmentRouter.SegmentStopped>(new SegmentRouter.StopSegment(Pg, replica), Short);

    protected Task StartSegmentAsync(int replica) => Router.Ask<SegmentRouter.Ok>(new SegmentRouter.StartSegment(Pg, replica), Short);

    protected Task BlackholeAsync(int replica, bool on) => Router.Ask<SegmentRouter.Ok>(new SegmentRouter.Blackhole(Pg, replica, on), Short);

    /// <summary>Ends hold <paramref name="key"/> and delivers what it caught; returns how many messages.</summary>
    protected async Task<int> ReleaseAsync(string key) => (await Router.Ask<SegmentRouter.Released>(new SegmentRouter.Release(key), Short)).Count;

    protected long Dropped(int replica) => Faults.DroppedCount(Pg, replica);

    protected Task<SegmentStatus> SegmentStatusAsync(int replica) => Router.Ask<SegmentStatus>(new GetSegmentStatus(Pg, replica), Short);

    protected static Dictionary<string, object?> Value(string v) => new() { ["v"] = v };

    /// <summary>Inserts one row in its own transaction and commits it.</summary>
    protected static async Task<CommitInfo> InsertAsync(IActorDbClient client, long key, string value)
    {
        await using var tx = client.Begin();
        await tx.InsertAsync(Kv.Name, key, Value(value));
        return await tx.CommitAsync();
    }

    /// <summary>Reads one row in its own (read-only) transaction.</summary>
    protected static async Task<Row?> ReadAsync(IActorDbClient client, long key)
    {
        await using var tx = client.Begin();
        var row = await tx.GetAsync(Kv.Name, key);
        await tx.CommitAsync();
        return row;
    }

    protected static void AssertDurable(CommitInfo info)
    {
        Assert.True(info.CommitLsn > 0, $"commit LSN {info.CommitLsn} should be positive");
        Assert.True(info.Vdl >= info.CommitLsn, $"acknowledged with VDL {info.Vdl} below its commit LSN {info.CommitLsn}");
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);   // shuts the actor system down: segments close their logs
        if (disposing) _dir.Dispose();
    }
}
