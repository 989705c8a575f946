using System.Text;
using ActorDb.Core.Pages;
using CsCheck;

namespace ActorDb.Core.Tests.Pages;

/// <summary>A random B+tree operation for model-based tests.</summary>
internal readonly record struct TreeOp(TreeOpKind Kind, int KeyIndex, int ValueLength, byte ValueSeed, int ScanCount)
{
    public override string ToString() => $"{Kind} k{KeyIndex} v{ValueLength}/{ValueSeed} n{ScanCount}";
}

internal enum TreeOpKind { Insert, Update, Upsert, Delete, Get, Scan }

internal static class BTreeTestSupport
{
    /// <summary>
    /// Key #i: its decimal digits (so "1" &lt; "10" &lt; "100": many keys are prefixes of others);
    /// every 4th key instead gets a 0x7F byte and a run of 300..449 'x' before its digits (long shared
    /// prefixes make long separators, so internal nodes fill and split quickly); every 3rd digit key
    /// ends with the bytes 00 80 (exercises unsigned byte order). The digits determine i: keys are unique.
    /// </summary>
    public static byte[] Key(int i)
    {
        var digits = Encoding.ASCII.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (i % 4 == 0)
        {
            int run = 300 + i % 150;
            var k = new byte[1 + run + digits.Length];
            k[0] = 0x7F;
            k.AsSpan(1, run).Fill((byte)'x');
            digits.CopyTo(k, 1 + run);
            return k;
        }
        return i % 3 == 0 ? [.. digits, 0x00, 0x80] : digits;
    }

    public static byte[] Value(int length, byte seed)
    {
        var v = new byte[length];
        for (int i = 0; i < v.Length; i++) v[i] = (byte)(seed + i * 7);
        return v;
    }

    /// <summary>Operations biased to inserts so that trees grow to several levels.</summary>
    public static Gen<TreeOp> GenOp(int keySpace, int maxValue) =>
        Gen.Select(Gen.Int[0, 99], Gen.Int[0, keySpace - 1], Gen.Int[0, maxValue], Gen.Byte, Gen.Int[1, 40],
            (k, key, len, seed, n) => new TreeOp(
                k switch
                {
                    < 40 => TreeOpKind.Insert,
                    < 52 => TreeOpKind.Update,
                    < 62 => TreeOpKind.Upsert,
                    < 80 => TreeOpKind.Delete,
                    < 94 => TreeOpKind.Get,
                    _ => TreeOpKind.Scan,
                }, key, len, seed, n));

    /// <summary>Runs <paramref name="op"/> on the tree and the reference model and asserts they agree.</summary>
    public static void RunAndCheck(BTree tree, SortedDictionary<byte[], byte[]> model, TreeOp op)
    {
        var key = Key(op.KeyIndex);
        var value = Value(op.ValueLength, op.ValueSeed);
        switch (op.Kind)
        {
            case TreeOpKind.Insert:
            {
                bool expected = !model.ContainsKey(key);
                Assert.Equal(expected, tree.Insert(key, value));
                if (expected) model[key] = value;
                break;
            }
            case TreeOpKind.Update:
            {
                bool expected = model.ContainsKey(key);
                Assert.Equal(expected, tree.Update(key, value));
                if (expected) model[key] = value;
                break;
            }
            case TreeOpKind.Upsert:
            {
                bool expected = !model.ContainsKey(key);
                Assert.Equal(expected, tree.Upsert(key, value));
                model[key] = value;
                break;
            }
            case TreeOpKind.Delete:
            {
                bool actual = tree.Delete(key); // first: it may throw PageMissException
                Assert.Equal(model.Remove(key), actual);
                break;
            }
            case TreeOpKind.Get:
                Assert.Equal(model.GetValueOrDefault(key), tree.Get(key));
                break;
            case TreeOpKind.Scan:
            {
                var expected = model.Where(kv => kv.Key.AsSpan().SequenceCompareTo(key) >= 0)
                    .Take(op.ScanCount).ToList();
                var actual = tree.Scan(key, op.ScanCount);
                Assert.Equal(expected.Count, actual.Count);
                for (int i = 0; i < expected.Count; i++)
                {
                    Assert.Equal(expected[i].Key, actual[i].Key);
                    Assert.Equal(expected[i].Value, actual[i].Value);
                }
                break;
            }
        }
    }

    public static void AssertTreeEqualsModel(BTree tree, SortedDictionary<byte[], byte[]> model)
    {
        tree.Validate();
        Assert.Equal(model.Count, tree.Count());
        var all = tree.Scan(ReadOnlySpan<byte>.Empty, int.MaxValue);
        Assert.Equal(model.Count, all.Count);
        int i = 0;
        foreach (var kv in model)
        {
            Assert.Equal(kv.Key, all[i].Key);
            Assert.Equal(kv.Value, all[i].Value);
            i++;
        }
    }

    public static SortedDictionary<byte[], byte[]> NewModel() => new(KeyEncoding.Comparer);

    /// <summary>The pages a write on <paramref name="key"/> reads: root to leaf.</summary>
    public static List<long> PathOf(MemoryPageSource source, long root, byte[] key)
    {
        var path = new List<long> { root };
        var node = source.Pages[root];
        while (NodeLayout.GetNodeType(node) == NodeType.Internal)
        {
            long child = NodeLayout.GetChildAt(node, NodeLayout.ChildIndexFor(node, key));
            path.Add(child);
            node = source.Pages[child];
        }
        return path;
    }
}
