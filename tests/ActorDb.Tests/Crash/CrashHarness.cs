using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ActorDb.Tests.Bench;

namespace ActorDb.Tests.Crash;

/// <summary>Settings of one <see cref="CrashHarness"/> run.</summary>
internal sealed record CrashOptions
{
    /// <summary>Kill -9 cycles.</summary>
    public required int Cycles { get; init; }

    /// <summary>Seed of every random choice the harness makes (delays, damage, the bench processes' seeds). The kill
    /// instants still depend on timing, so a run is not exactly repeatable; the seed is printed for what it fixes.</summary>
    public required int Seed { get; init; }

    /// <summary>Accounts of the bank table.</summary>
    public int AccountCount { get; init; } = 200;

    /// <summary>Starting balance of every account.</summary>
    public long InitialBalance { get; init; } = 1000;

    /// <summary>Client sessions of each bench process (<c>--threads</c>).</summary>
    public int Threads { get; init; } = 8;

    /// <summary><c>operationcount</c> of each killed bench process: far more than it can do before the kill. Insert
    /// cycle c uses key numbers from (c + 1) × this, so keys of different cycles never collide.</summary>
    public long OperationsPerProcess { get; init; } = 1_000_000;

    /// <summary>Every this-many cycles (the 3rd, 6th, ...), a segment log tail is damaged after the kill.</summary>
    public int DamageEvery { get; init; } = 3;

    /// <summary>The kill comes this long (uniform, ms) after the process printed its first acknowledged commit.</summary>
    public (int Min, int Max) KillDelayMs { get; init; } = (200, 1500);

    /// <summary>Longest wait for a process that runs to completion (set-up, dumps, the final run).</summary>
    public TimeSpan ProcessLimit { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Longest wait for a bench's first acknowledged commit after the previous kill (a start takes 1-3 s here).</summary>
    public TimeSpan FirstCommitLimit { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Where the per-cycle and final summary lines go.</summary>
    public required Action<string> Log { get; init; }
}

/// <summary>What a harness run did.</summary>
internal sealed record CrashSummary(int Cycles, int Kills, long AckedWritesLogged, long AckedInsertsVerified, long TransferUpdatesReplayed,
    int Damages, int Failures, TimeSpan Elapsed, string? FailureMessage)
{
    /// <summary>The closing line.</summary>
    public override string ToString() =>
        $"[crash] SUMMARY cycles {Cycles}, kills {Kills} (SIGKILL), acked writes logged {AckedWritesLogged}, acked inserts verified " +
        $"{AckedInsertsVerified} (each re-checked after every later kill), acked transfer updates replayed {TransferUpdatesReplayed}, " +
        $"segment tails damaged {Damages}, failures {Failures}, {Elapsed.TotalSeconds:0.0} s";
}

/// <summary>
/// Kill -9 cycles against the real CLI on one data directory. Set-up: <c>bench --workload bank</c> loads the accounts
/// (run to completion) and an insert-only bench with no operations creates <c>usertable</c>. Then each cycle starts a
/// <c>bench --skip-load --ack-log</c> process, alternately bank transfers and YCSB insert-only, waits until it prints
/// that its first commit was acknowledged (this proves the volume, recovered after the previous kill, accepts new
/// commits), waits a random 200-1500 ms, and kills it with SIGKILL. Every <see cref="CrashOptions.DamageEvery"/>th
/// cycle it then cuts or zeroes the tail of one segment log. Then <c>actordb dump</c> of both tables, and the checks:
/// <list type="bullet">
/// <item>accounts: exactly accountcount rows with ids 1..accountcount (the dump refuses duplicates), every balance
/// &gt;= 0, and the sum unchanged. After a bank cycle, the balances equal the previous dump with this cycle's logged
/// updates replayed in commit-LSN order, except for at most 2 × threads accounts: a transfer that committed but whose
/// acknowledgement was never logged (at most one in flight per client session at the kill) moves balances past the
/// last logged value. After an insert cycle the accounts equal the previous dump exactly.</item>
/// <item>usertable: every insert in every ack log so far is present with exactly its field values; every row of the
/// previous dump is still there unchanged; rows no ack explains were inserted by this cycle (key in its range, at
/// most one per client session).</item>
/// <item>the commit LSNs of a cycle's ack log are all above those of earlier cycles (no LSN reused after recovery).</item>
/// </list>
/// After the last cycle a bank run to completion shows that the volume takes commits and the bench's own invariant
/// holds. The first failure stops the run; its data directory and ack logs are kept and named in the message.
/// </summary>
internal sealed class CrashHarness
{
    /// <summary>Environment variable with the cycle count (the soak: <c>./build.ps1 crash-soak -Cycles 200</c>).</summary>
    public const string CyclesVariable = "ACTORDB_CRASH_CYCLES";

    /// <summary>Environment variable with the harness seed (default: random, printed).</summary>
    public const string SeedVariable = "ACTORDB_CRASH_SEED";

    /// <summary>Environment variable naming a file that receives each summary line as it happens (the soak tails it).</summary>
    public const string LogVariable = "ACTORDB_CRASH_LOG";

    private const string FirstCommitPrefix = "[bench] first commit acknowledged ";

    private readonly CrashOptions _o;
    private readonly Random _rng;
    private readonly string _root;
    private readonly string _data;
    private readonly string _insertOnly;
    private readonly int _damageAz;

    // The state the last dump showed, the reference for the next check.
    private Dictionary<long, long> _accounts = [];
    private Dictionary<string, UInt128> _users = new(StringComparer.Ordinal);
    // Every acknowledged insert so far: key -> digest of its fields.
    private readonly Dictionary<string, UInt128> _ackedInserts = new(StringComparer.Ordinal);
    private long _maxLoggedLsn;
    // What the opens (dumps) after the last kill logged about recovery, for the next cycle's messages.
    private readonly List<string> _opensSinceKill = [];
    private long _ackedWrites, _insertsVerified, _transferUpdates;
    private int _kills, _damages;

    public CrashHarness(CrashOptions options)
    {
        _o = options;
        _rng = new Random(options.Seed);
        _root = Path.Combine(Path.GetTempPath(), "actordb-crash-" + Guid.NewGuid().ToString("N")[..12]);
        _data = Path.Combine(_root, "data");
        _insertOnly = Path.Combine(BenchTestPaths.RepoWorkloads(), "ycsb-insert-only");
        // Damage stays within one AZ's two segments: the design's budget is the loss of any 2 segments of a PG. A
        // damaged segment misses acknowledged records (its peers hold them) and, until segments catch up from their
        // peers (not written yet), stays behind for good; a third one behind would leave the PG short of a write quorum.
        _damageAz = _rng.Next(3);
    }

    /// <summary>The cycle count from <see cref="CyclesVariable"/>, or <paramref name="fallback"/>.</summary>
    public static int CyclesFromEnvironment(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(CyclesVariable), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : fallback;

    /// <summary>The seed from <see cref="SeedVariable"/>, or a random one.</summary>
    public static int SeedFromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next();

    /// <summary>Runs the set-up and every cycle. Never throws for a failed check: the summary has the failure; the
    /// data directory is deleted on success and kept on failure.</summary>
    public async Task<CrashSummary> RunAsync()
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(_root);
        _o.Log($"[crash] seed {_o.Seed}, {_o.Cycles} cycles, data {_data}, damage in az-{(char)('a' + _damageAz)}, insert workload {_insertOnly}");
        var cycle = 0;
        string? failure = null;
        try
        {
            await SetUpAsync();
            for (cycle = 1; cycle <= _o.Cycles; cycle++)
                await CycleAsync(cycle);
            cycle = _o.Cycles;
            await FinalRunAsync();
        }
        catch (CrashCheckException e)
        {
            failure = e.Message;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or InvalidDataException or JsonException or Xunit.Sdk.XunitException)
        {
            failure = $"cycle {cycle}: {e.GetType().Name}: {e.Message}";
        }
        if (failure is not null)
            failure += $"\n[crash] data directory and ack logs kept in {_root} (seed {_o.Seed})";
        else
            TryDelete(_root);
        var summary = new CrashSummary(failure is null ? _o.Cycles : Math.Max(0, cycle - 1), _kills, _ackedWrites, _insertsVerified,
            _transferUpdates, _damages, failure is null ? 0 : 1, clock.Elapsed, failure);
        if (failure is not null) _o.Log("[crash] FAILED " + failure);
        _o.Log(summary.ToString());
        return summary;
    }

    private async Task SetUpAsync()
    {
        var ackLog = Path.Combine(_root, "acks-0-setup-bank.jsonl");
        var bank = await RunToEndAsync("set-up bank", "bench", "--workload", "bank", "-p", $"accountcount={_o.AccountCount}",
            "-p", $"initialbalance={_o.InitialBalance}", "-p", "operationcount=0", "--data-dir", _data, "--ack-log", ackLog, "--seed", Seed());
        Require(bank.Stdout.Contains("[BANK], Invariant, OK"), 0, "set-up bank run did not report its invariant OK", bank.Stdout, bank.Stderr);
        var acks = AckedWrites.ReadLog(ackLog);
        _accounts = AckedWrites.Replay(acks, "accounts").ToDictionary(kv => (long)kv.Key, kv => (long)kv.Value["balance"]!);
        Require(_accounts.Count == _o.AccountCount && _accounts.Values.All(b => b == _o.InitialBalance), 0,
            $"set-up ack log holds {_accounts.Count} accounts, expected {_o.AccountCount} at {_o.InitialBalance}", bank.Stdout, bank.Stderr);
        _maxLoggedLsn = acks.Max(a => a.CommitLsn);
        _ackedWrites += acks.Count;

        var users = await RunToEndAsync("set-up usertable", "bench", "--workload", _insertOnly, "-p", "operationcount=0", "--data-dir", _data, "--seed", Seed());
        Require(users.Stdout.Contains("[OVERALL]"), 0, "set-up insert-only run printed no report", users.Stdout, users.Stderr);
        _o.Log($"[crash] set-up: {_o.AccountCount} accounts at {_o.InitialBalance}, empty usertable");
    }

    private async Task CycleAsync(int cycle)
    {
        var started = Stopwatch.StartNew();
        var bank = cycle % 2 == 1;
        var keyBase = cycle * _o.OperationsPerProcess;
        var ackLog = Path.Combine(_root, $"acks-{cycle}-{(bank ? "bank" : "insert")}.jsonl");
        string[] args = bank
            ? ["bench", "--workload", "bank", "--skip-load", "-p", $"accountcount={_o.AccountCount}", "-p", $"initialbalance={_o.InitialBalance}",
               "-p", $"operationcount={_o.OperationsPerProcess}", "--threads", $"{_o.Threads}", "--data-dir", _data, "--ack-log", ackLog, "--seed", Seed()]
            : ["bench", "--workload", _insertOnly, "--skip-load", "-p", $"recordcount={keyBase}", "-p", $"insertstart={keyBase}",
               "-p", $"operationcount={_o.OperationsPerProcess}", "--threads", $"{_o.Threads}", "--data-dir", _data, "--ack-log", ackLog, "--seed", Seed()];

        using var bench = CliProcess.Start(args);
        string firstLine;
        try
        {
            firstLine = await bench.WaitForLineAsync(l => l.StartsWith(FirstCommitPrefix, StringComparison.Ordinal), _o.FirstCommitLimit,
                "first acknowledged commit (the volume did not accept a commit after the previous kill)");
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            throw new CrashCheckException($"cycle {cycle}: {e.Message}\n{Diagnosis(bench.StderrLines)}\n" +
                                          $"the opens after the previous kill logged:\n{string.Join('\n', _opensSinceKill)}");
        }
        var firstCommitMs = double.Parse(firstLine[FirstCommitPrefix.Length..].Split(' ')[0], CultureInfo.InvariantCulture);
        if (bank) CheckBankBefore(cycle, bench);

        var delay = _rng.Next(_o.KillDelayMs.Min, _o.KillDelayMs.Max + 1);
        await Task.Delay(delay);   // deliberate: the kill lands at a random point of the run
        var exit = await bench.KillNineAsync();
        if (exit is null)
            throw new CrashCheckException($"cycle {cycle}: the bench exited by itself before the kill\nstdout tail:\n{bench.StdoutTail()}\nstderr tail:\n{bench.StderrTail()}");
        if (exit != 128 + 9)
            throw new CrashCheckException($"cycle {cycle}: the killed bench reports exit code {exit}, not 137 (SIGKILL)");
        _kills++;
        _opensSinceKill.Clear();

        string damage = "none";
        if (cycle % _o.DamageEvery == 0)
        {
            var replica = 2 * _damageAz + _rng.Next(2);
            var kind = (SegmentTailDamage.Kind)_rng.Next(4);
            damage = $"pg-0-{replica}: " + SegmentTailDamage.Apply(_data, replica, kind, _rng.Next(1, 101));
            _damages++;
        }

        var acks = AckedWrites.ReadLog(ackLog, dropTornLastLine: true, out var tornBytes);
        string Context() => $"cycle {cycle} ({(bank ? "bank" : "insert-only")}, killed {delay} ms after its first commit, damage: {damage})";
        try
        {
            if (acks.Count == 0)
                throw new CrashCheckException("its ack log is empty although a commit was acknowledged at least 200 ms before the kill (the log is not reaching the OS?)");
            var minLsn = acks.Min(a => a.CommitLsn);
            if (minLsn <= _maxLoggedLsn)
                throw new CrashCheckException($"commit LSN {minLsn} acknowledged in this cycle is not above {_maxLoggedLsn}, acknowledged before the kill: an LSN was reused after recovery");
            var accountNote = await CheckAccountsAsync(bank ? acks : null);
            var userNote = await CheckUsersAsync(bank ? null : acks, keyBase);
            _maxLoggedLsn = acks.Max(a => a.CommitLsn);
            _ackedWrites += acks.Count;
            _o.Log($"[crash] cycle {cycle}/{_o.Cycles} {(bank ? "bank  " : "insert")}: first commit {firstCommitMs:0} ms after start, SIGKILL {delay} ms later; " +
                   $"{acks.Count} acked writes logged{(tornBytes > 0 ? $" (+{tornBytes} B torn line dropped)" : "")}; damage: {damage}; {accountNote}; {userNote}; " +
                   $"{started.Elapsed.TotalSeconds:0.0} s");
        }
        catch (CrashCheckException e)
        {
            throw new CrashCheckException($"{Context()}: {e.Message}\nack log {ackLog}\nkilled bench: actordb {bench.Arguments}\nits stdout tail:\n{bench.StdoutTail()}\n" +
                                          $"{Diagnosis(bench.StderrLines)}\nits stderr tail:\n{bench.StderrTail()}");
        }
    }

    private void CheckBankBefore(int cycle, CliProcess bench)
    {
        var lines = bench.StdoutLines;
        long? Value(string name) => lines.Where(l => l.StartsWith($"[BANK], {name}, ", StringComparison.Ordinal))
            .Select(l => (long?)long.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)).FirstOrDefault();
        var count = Value("AccountsBefore");
        var sum = Value("BalanceSumBefore");
        if (count != _o.AccountCount || sum != _o.AccountCount * _o.InitialBalance)
            throw new CrashCheckException($"cycle {cycle}: the bank bench found {count?.ToString() ?? "no count"} accounts with sum {sum?.ToString() ?? "none"} " +
                                          $"after recovery, expected {_o.AccountCount} with sum {_o.AccountCount * _o.InitialBalance}\nstdout tail:\n{bench.StdoutTail()}");
    }

    /// <summary>Dumps accounts and checks them against the last dump, with <paramref name="bankAcks"/> (this cycle's
    /// transfers) replayed on it, or unchanged when the cycle did not touch accounts.</summary>
    private async Task<string> CheckAccountsAsync(List<AckedWrites.Ack>? bankAcks)
    {
        var rows = new Dictionary<long, long>();
        await DumpAsync("accounts", (key, fields) =>
        {
            if (key is not long id) throw new CrashCheckException($"accounts dump: key {key} is not an Int64");
            if (fields.Count != 1 || !fields.TryGetValue("balance", out var b) || b is not long balance)
                throw new CrashCheckException($"accounts dump: account {id} has fields {Show(fields)}, expected one Int64 balance");
            rows.Add(id, balance);
        });
        var expectedSum = _o.AccountCount * _o.InitialBalance;
        var sum = rows.Values.Sum();
        var badIds = rows.Keys.Where(k => k < 1 || k > _o.AccountCount).Take(5).ToList();
        var lostIds = Enumerable.Range(1, _o.AccountCount).Select(i => (long)i).Where(i => !rows.ContainsKey(i)).Take(5).ToList();
        if (rows.Count != _o.AccountCount || badIds.Count > 0 || lostIds.Count > 0)
            throw new CrashCheckException($"accounts dump has {rows.Count} accounts, expected ids 1..{_o.AccountCount}; missing {string.Join(", ", lostIds)}; unexpected {string.Join(", ", badIds)}");
        if (sum != expectedSum)
            throw new CrashCheckException($"the sum of balances is {sum}, expected {expectedSum} (a transfer half applied or lost)");
        if (rows.FirstOrDefault(r => r.Value < 0) is { Value: < 0 } negative)
            throw new CrashCheckException($"account {negative.Key} has a negative balance {negative.Value}");

        var expected = new Dictionary<long, long>(_accounts);
        var updates = 0;
        if (bankAcks is not null)
        {
            foreach (var a in bankAcks.Where(a => a.Table == "accounts").OrderBy(a => a.CommitLsn))   // stable: statement order within a commit
            {
                if (a.Op != "update" || a.Key is not long id || !expected.ContainsKey(id) || a.Fields.GetValueOrDefault("balance") is not long balance)
                    throw new CrashCheckException($"ack log line is not a transfer update of an account: {a}");
                expected[id] = balance;
                updates++;
            }
        }
        var moved = expected.Where(kv => rows[kv.Key] != kv.Value).Select(kv => kv.Key).ToList();
        var allowed = bankAcks is null ? 0 : 2 * _o.Threads;
        if (moved.Count > allowed)
            throw new CrashCheckException(
                $"{moved.Count} accounts differ from the last dump with this cycle's acknowledged transfers replayed; at most {allowed} can " +
                $"(transfers committed but not yet logged at the kill). First ones (id: expected -> dumped): " +
                string.Join(", ", moved.Take(10).Select(id => $"{id}: {expected[id]} -> {rows[id]}")));
        _accounts = rows;
        _transferUpdates += updates;
        return bankAcks is null
            ? $"accounts unchanged ({rows.Count}, sum {sum})"
            : $"accounts {rows.Count}, sum {sum}, {updates} acked updates replayed, {moved.Count} moved by unlogged transfers";
    }

    /// <summary>Dumps usertable: every acknowledged insert so far is there exactly; the last dump's rows are unchanged;
    /// new rows no ack explains come from this cycle (<paramref name="insertAcks"/> non-null) and are few.</summary>
    private async Task<string> CheckUsersAsync(List<AckedWrites.Ack>? insertAcks, long keyBase)
    {
        if (insertAcks is not null)
        {
            foreach (var a in insertAcks)
            {
                if (a.Table != "usertable" || a.Op != "insert" || a.Key is not string key)
                    throw new CrashCheckException($"ack log line is not an insert into usertable: {a}");
                if (!_ackedInserts.TryAdd(key, Digest(a.Fields)))
                    throw new CrashCheckException($"ack log inserts key {key} a second time");
            }
        }
        var rows = new Dictionary<string, UInt128>(_users.Count + (insertAcks?.Count ?? 0) + 64, StringComparer.Ordinal);
        var currentFields = new Dictionary<string, Dictionary<string, object?>>(StringComparer.Ordinal);
        var thisCycle = insertAcks?.Select(a => (string)a.Key).ToHashSet(StringComparer.Ordinal) ?? [];
        await DumpAsync("usertable", (key, fields) =>
        {
            if (key is not string k) throw new CrashCheckException($"usertable dump: key {key} is not a String");
            rows.Add(k, Digest(fields));
            if (thisCycle.Contains(k)) currentFields[k] = fields;   // kept for an exact comparison and a precise message
        });

        // This cycle's acks: compared value by value. Earlier ones: by a 128-bit digest of the same canonical form.
        foreach (var a in insertAcks ?? [])
        {
            var key = (string)a.Key;
            if (!currentFields.TryGetValue(key, out var got))
                throw new CrashCheckException($"acknowledged insert {key} (commit LSN {a.CommitLsn}) is missing after the kill");
            if (got.Count != a.Fields.Count || a.Fields.Any(f => !got.TryGetValue(f.Key, out var v) || !Equals(v, f.Value)))
                throw new CrashCheckException($"acknowledged insert {key} (commit LSN {a.CommitLsn}): expected {Show(a.Fields)}, dumped {Show(got)}");
        }
        var missing = new List<string>();
        var changed = new List<string>();
        foreach (var (key, digest) in _ackedInserts)
        {
            if (!rows.TryGetValue(key, out var got)) missing.Add(key);
            else if (got != digest) changed.Add(key);
        }
        if (missing.Count > 0 || changed.Count > 0)
            throw new CrashCheckException($"of {_ackedInserts.Count} acknowledged inserts so far, {missing.Count} are missing ({string.Join(", ", missing.Take(10))}) " +
                                          $"and {changed.Count} have other values ({string.Join(", ", changed.Take(10))})");
        var lost = _users.Where(kv => !rows.TryGetValue(kv.Key, out var d) || d != kv.Value).Select(kv => kv.Key).Take(10).ToList();
        if (lost.Count > 0)
            throw new CrashCheckException($"rows the previous dump showed (after recovery) are gone or changed: {string.Join(", ", lost)}");
        var unexplained = rows.Keys.Where(k => !_users.ContainsKey(k) && !_ackedInserts.ContainsKey(k)).ToList();
        if (unexplained.Count > 0)
        {
            if (insertAcks is null)
                throw new CrashCheckException($"usertable has {unexplained.Count} new rows although this cycle ran the bank: {string.Join(", ", unexplained.Take(10))}");
            var outOfRange = unexplained.Where(k => !(k.StartsWith("user", StringComparison.Ordinal) && long.TryParse(k.AsSpan(4), CultureInfo.InvariantCulture, out var n)
                                                    && n >= keyBase && n < keyBase + _o.OperationsPerProcess)).Take(10).ToList();
            if (outOfRange.Count > 0)
                throw new CrashCheckException($"usertable rows outside this cycle's key range [{keyBase}, {keyBase + _o.OperationsPerProcess}) that no ack explains: {string.Join(", ", outOfRange)}");
            if (unexplained.Count > _o.Threads)
                throw new CrashCheckException($"{unexplained.Count} inserts of this cycle are present without an acknowledgement; at most {_o.Threads} (one in flight per session) can be: {string.Join(", ", unexplained.Take(10))}");
        }
        _users = rows;
        _insertsVerified += _ackedInserts.Count;
        return $"usertable {rows.Count} rows: all {_ackedInserts.Count} acked inserts exact, {unexplained.Count} unacknowledged inserts present";
    }

    private async Task DumpAsync(string table, Action<object, Dictionary<string, object?>> onRow)
    {
        object? previous = null;
        var count = 0;
        using var dump = CliProcess.StartStreaming(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var key = AckedWrites.Scalar(doc.RootElement.GetProperty("key"))!;
            if (previous is not null && CompareKeys(previous, key) >= 0)
                throw new CrashCheckException($"{table} dump: key {key} after {previous} (duplicate or out of order)");
            previous = key;
            var fields = AckedWrites.Fields(doc.RootElement.GetProperty("fields"));
            foreach (var k in fields.Where(f => f.Value is null).Select(f => f.Key).ToList()) fields.Remove(k);
            onRow(key, fields);
            count++;
        }, "dump", "--data-dir", _data, "--table", table);
        CliResult result;
        try
        {
            result = await dump.WaitForExitAsync(_o.ProcessLimit);
        }
        catch (TimeoutException e)
        {
            throw new CrashCheckException($"dump of {table} (the first open after the kill): {e.Message}");
        }
        if (result.ExitCode != 0)
            throw new CrashCheckException($"dump of {table} (the first open after the kill) failed with exit code {result.ExitCode}\n" +
                                          $"{Diagnosis(dump.StderrLines)}\ndump stderr tail:\n{dump.StderrTail()}");
        _opensSinceKill.Add($"dump of {table}: {Diagnosis(dump.StderrLines)}");
    }

    /// <summary>The node's own account of recovery trouble: its log lines about segments behind, stalls, cut tails,
    /// holes and errors (the first 20), for failure messages.</summary>
    private static string Diagnosis(IReadOnlyList<string> stderr)
    {
        string[] marks = ["behind", "stalled", "lacks records", "cut ", "corrupt", "[ERROR]", "Exception"];
        var lines = stderr.Where(l => marks.Any(m => l.Contains(m, StringComparison.Ordinal))).Take(20).ToList();
        return lines.Count == 0 ? "(no recovery warnings in its log)" : "its recovery warnings:\n" + string.Join('\n', lines);
    }

    private async Task FinalRunAsync()
    {
        var ackLog = Path.Combine(_root, $"acks-{_o.Cycles + 1}-final-bank.jsonl");
        var final = await RunToEndAsync("final bank run", "bench", "--workload", "bank", "--skip-load", "-p", $"accountcount={_o.AccountCount}",
            "-p", $"initialbalance={_o.InitialBalance}", "-p", "operationcount=200", "--threads", $"{_o.Threads}", "--data-dir", _data,
            "--ack-log", ackLog, "--seed", Seed());
        Require(final.Stdout.Contains("[BANK], Invariant, OK") && final.Stdout.Contains("[TRANSFER], Return=OK, 200"), _o.Cycles + 1,
            "the final bank run after the last kill did not complete 200 transfers with its invariant OK", final.Stdout, final.Stderr);
        var acks = AckedWrites.ReadLog(ackLog);
        _ackedWrites += acks.Count;
        _o.Log($"[crash] final: a bank run of 200 transfers completed after the last kill, invariant OK, {acks.Count} acked writes");
    }

    private async Task<CliResult> RunToEndAsync(string what, params string[] args)
    {
        var result = await CliProcess.RunAsync(_o.ProcessLimit, args);
        Require(result.ExitCode == 0, -1, $"{what} (actordb {string.Join(' ', args)}) exited with code {result.ExitCode}", result.Stdout, result.Stderr);
        return result;
    }

    private static void Require(bool ok, int cycle, string message, string stdout, string stderr)
    {
        if (!ok)
            throw new CrashCheckException($"{(cycle < 0 ? "" : $"cycle {cycle}: ")}{message}\nstdout tail:\n{Tail(stdout)}\nstderr tail:\n{Tail(stderr)}");
    }

    private string Seed() => _rng.Next().ToString(CultureInfo.InvariantCulture);

    private static string Tail(string text) => string.Join('\n', text.Split('\n').TakeLast(30));

    private static string Show(IReadOnlyDictionary<string, object?> fields) =>
        "{" + string.Join(", ", fields.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}={f.Value}")) + "}";

    private static int CompareKeys(object a, object b) => (a, b) switch
    {
        (long x, long y) => x.CompareTo(y),
        (string x, string y) => string.CompareOrdinal(x, y),
        _ => throw new CrashCheckException($"keys of different types: {a}, {b}"),
    };

    /// <summary>A 128-bit digest of a row's fields in a canonical form (names sorted, values typed), the same for the
    /// ack log's and the dump's JSON whatever their escaping.</summary>
    private static UInt128 Digest(IReadOnlyDictionary<string, object?> fields)
    {
        var text = new StringBuilder();
        foreach (var (name, value) in fields.Where(f => f.Value is not null).OrderBy(f => f.Key, StringComparer.Ordinal))
            text.Append(name).Append('\u0001').Append(value is long l ? "i" + l.ToString(CultureInfo.InvariantCulture) : "s" + value).Append('\u0002');
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()), hash);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>A crash check failed; the message says which, with the cycle and the processes' output.</summary>
internal sealed class CrashCheckException(string message) : Exception(message);
