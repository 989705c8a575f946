using System.Text;
using ActorDb.Core.Redo;
using CsCheck;

namespace ActorDb.Core.Tests.Storage;

public class Crc32CTests
{
    [Fact]
    public void Check_value_of_123456789()
    {
        byte[] data = Encoding.ASCII.GetBytes("123456789");
        Assert.Equal(0xE3069283u, Crc32C.Compute(data));
        Assert.Equal(0xE3069283u, Crc32C.ComputeSoftware(data));
    }

    [Fact]
    public void Rfc3720_vectors()
    {
        var zeros = new byte[32];
        var ones = Enumerable.Repeat((byte)0xFF, 32).ToArray();
        var ascending = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var descending = Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray();
        foreach (Func<byte[], uint> crc in new Func<byte[], uint>[] { d => Crc32C.Compute(d), d => Crc32C.ComputeSoftware(d) })
        {
            Assert.Equal(0x8A9136AAu, crc(zeros));
            Assert.Equal(0x62A8AB43u, crc(ones));
            Assert.Equal(0x46DD794Eu, crc(ascending));
            Assert.Equal(0x113FDB5Cu, crc(descending));
        }
        Assert.Equal(0u, Crc32C.Compute(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void Hardware_and_table_paths_agree_and_append_composes()
    {
        Gen.Byte.Array[0, 200].Select(Gen.Int[0, 200]).Sample((data, cut) =>
        {
            cut = Math.Min(cut, data.Length);
            uint whole = Crc32C.Compute(data);
            Assert.Equal(Crc32C.ComputeSoftware(data), whole);
            Assert.Equal(whole, Crc32C.Append(Crc32C.Compute(data.AsSpan(0, cut)), data.AsSpan(cut)));
        }, iter: 500, threads: 1);
    }
}
