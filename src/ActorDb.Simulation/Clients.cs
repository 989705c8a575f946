namespace ActorDb.Simulation;

/// <summary>What a client asks the writer node: one insert or one transfer, answered once through <c>done</c>.</summary>
public interface IWriterPort
{
    /// <summary>Runs <paramref name="op"/> as one transaction; calls <paramref name="done"/> at most once with its outcome,
    /// the acknowledging writer's epoch, and a reason for anything but Ok. A crash of the writer node answers nothing
    /// (the client's timeout makes it ambiguous). Returns what the client does when it gives up waiting: roll back the
    /// transaction it left open, as ActorDbClient's transaction does when disposed.</summary>
    Action Submit(ClientOp op, Action<Outcome, long, string?> done);
}

/// <summary>
/// The clients of a run: each runs one operation at a time (a unique-key insert, or a bank transfer between two
/// accounts), records it in the history, waits for its answer up to <see cref="Timeout"/> (then it is ambiguous), thinks,
/// and goes on until the run ends. Keys are unique per client and sequence, values drawn from the clients' stream.
/// </summary>
public sealed class Clients(SimScheduler scheduler, Random random, Observations observations, RunPlan plan, IWriterPort writer)
{
    /// <summary>How long a client waits for an answer before it records the operation as ambiguous.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    private int _nextOp;
    private bool _stopped;

    /// <summary>No client starts another operation (those in flight still get their answer or time out).</summary>
    public void Stop() => _stopped = true;
    private readonly int[] _nextKey = new int[plan.Clients];

    /// <summary>Starts every client, each after a small random offset.</summary>
    public void Start()
    {
        for (var c = 0; c < plan.Clients; c++)
        {
            var client = c;
            scheduler.After(TimeSpan.FromMicroseconds(random.Next(5_000)), null, $"client {client} starts", () => Next(client));
        }
    }

    private void Next(int client)
    {
        if (_stopped) return;
        ClientOp op;
        var now = scheduler.Now;
        if (random.Next(3) == 0 && plan.Accounts >= 2)
        {
            var from = random.Next(plan.Accounts);
            var to = (from + 1 + random.Next(plan.Accounts - 1)) % plan.Accounts;
            op = new ClientOp(_nextOp++, client, null, 0, from, to, 1 + random.Next(50), now);
        }
        else op = new ClientOp(_nextOp++, client, $"c{client}-k{_nextKey[client]++}", random.NextInt64(1, long.MaxValue), 0, 0, 0, now);
        observations.Ops.Add(op);
        var answered = false;
        void Finish(Outcome outcome, long epoch, string? reason)
        {
            if (answered) return;
            answered = true;
            op.Outcome = outcome;
            op.AckEpoch = outcome == Outcome.Ok ? epoch : 0;
            op.Reason = reason;
            op.Ended = scheduler.Now;
            scheduler.After(TimeSpan.FromMicroseconds(20_000 + random.Next(180_000)), null, $"client {client} thinks", () => Next(client));
        }
        var giveUp = writer.Submit(op, Finish);
        scheduler.After(Timeout, null, $"client {client} timeout check op {op.Id}", () =>
        {
            if (answered) return;
            Finish(Outcome.Ambiguous, 0, "timed out");
            giveUp();
        });
    }
}
