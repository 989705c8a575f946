using ActorDb.Core.Redo;
using CsCheck;

namespace ActorDb.Core.Tests.Storage;

/// <summary>Generators, comparisons and a temporary directory for the storage tests.</summary>
internal static class StorageTestSupport
{
    /// <summary>Any record the codec accepts, with a payload of 0..300 bytes.</summary>
    public static readonly Gen<RedoRecord> GenRecord =
        from lsn in Gen.Long[1, long.MaxValue]
        from prev in Gen.Long[0, lsn - 1]
        from pg in Gen.Int[0, int.MaxValue]
        from pageNo in Gen.Long[-1, long.MaxValue]
        from kind in Gen.OneOfConst(RedoKind.PageDelta, RedoKind.Commit)
        from isCpl in Gen.Bool
        from txn in Gen.Long
        from epoch in Gen.Long[0, long.MaxValue]
        from payload in Gen.Byte.Array[0, 300]
        select new RedoRecord(new Lsn(lsn), new Lsn(prev), pg, pageNo, kind, isCpl, txn, epoch, payload);

    /// <summary>Field-by-field equality, payload compared by content.</summary>
    public static bool SameRecord(RedoRecord a, RedoRecord b) =>
        a.Lsn == b.Lsn && a.PrevLsn == b.PrevLsn && a.Pg == b.Pg && a.PageNo == b.PageNo && a.Kind == b.Kind
        && a.IsCpl == b.IsCpl && a.TxnId == b.TxnId && a.Epoch == b.Epoch && a.Payload.Span.SequenceEqual(b.Payload.Span);

    public static void AssertSameRecords(IReadOnlyList<RedoRecord> expected, IReadOnlyList<RedoRecord> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(SameRecord(expected[i], actual[i]), $"record #{i} differs: expected {expected[i]}, got {actual[i]}");
    }

    /// <summary>A PG chain: record i has LSN 10*(i+1) and backlinks to the previous one; payload sizes vary.</summary>
    public static List<RedoRecord> Chain(int count, int firstIndex = 0, int payloadBytes = -1, int seed = 1)
    {
        var rng = new Random(seed + firstIndex);
        var list = new List<RedoRecord>(count);
        for (int i = firstIndex; i < firstIndex + count; i++)
        {
            int size = payloadBytes >= 0 ? payloadBytes : rng.Next(0, 200);
            var payload = new byte[size];
            rng.NextBytes(payload);
            list.Add(new RedoRecord(new Lsn(10L * (i + 1)), new Lsn(10L * i), 3, 100 + i % 7,
                RedoKind.PageDelta, i % 5 == 4, 1000 + i / 5, 2, payload));
        }
        return list;
    }
}

/// <summary>A fresh directory under the system temp folder, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "actordb-storage-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
