// Ports of the YCSB core generators (Apache License 2.0, Copyright (c) 2010-2016 Yahoo! Inc., 2017 YCSB contributors),
// from Cooper et al., "Benchmarking Cloud Serving Systems with YCSB", SoCC 2010. The zipfian algorithm is from
// Gray et al., "Quickly Generating Billion-Record Synthetic Databases", SIGMOD 1994.
//
// Difference from the Java originals: randomness is not thread-local inside the generators; every call takes the
// caller's Random (each client loop owns one, seeded from --seed), so a generator instance can be shared by all
// loops and a seeded run is reproducible per loop.

namespace ActorDb.Cli.Bench;

/// <summary>YCSB's hashing helpers (<c>site.ycsb.Utils</c>) and key naming (<c>CoreWorkload.buildKeyName</c>).</summary>
public static class YcsbUtils
{
    /// <summary>FNV-1 64-bit offset basis.</summary>
    public const long FnvOffsetBasis64 = unchecked((long)0xCBF29CE484222325UL);

    /// <summary>FNV-1 64-bit prime.</summary>
    public const long FnvPrime64 = 1099511628211L;

    /// <summary>
    /// YCSB's <c>Utils.fnvhash64</c>: FNV-1 over the 8 little-endian octets of <paramref name="val"/> (arithmetic
    /// shift, as Java's <c>&gt;&gt;</c>), then <c>Math.abs</c> (which leaves <see cref="long.MinValue"/> negative, as in Java).
    /// </summary>
    public static long FnvHash64(long val)
    {
        long hashval = FnvOffsetBasis64;
        for (int i = 0; i < 8; i++)
        {
            long octet = val & 0x00ff;
            val >>= 8;
            hashval ^= octet;
            hashval = unchecked(hashval * FnvPrime64);
        }
        return hashval == long.MinValue ? hashval : Math.Abs(hashval);
    }

    /// <summary>
    /// YCSB's <c>CoreWorkload.buildKeyName</c>: <c>"user"</c> followed by the key number (hashed with
    /// <see cref="FnvHash64"/> unless inserts are ordered), left-padded with zeros to <paramref name="zeroPadding"/> digits.
    /// </summary>
    public static string BuildKeyName(long keynum, int zeroPadding, bool orderedInserts)
    {
        if (!orderedInserts)
            keynum = FnvHash64(keynum);
        var value = keynum.ToString(System.Globalization.CultureInfo.InvariantCulture);
        int fill = zeroPadding - value.Length;
        return fill > 0 ? "user" + new string('0', fill) + value : "user" + value;
    }

    /// <summary>
    /// A random printable ASCII string of <paramref name="length"/> characters, generated as YCSB's
    /// <c>RandomByteIterator</c> does (6 characters from each 32-bit random number, offsets from <c>' '</c>), except
    /// that DEL (0x7F), which that scheme can produce, is replaced by <c>'~'</c>.
    /// </summary>
    public static string RandomPrintable(Random rng, int length)
    {
        if (length <= 0)
            return "";
        return string.Create(length, rng, static (span, r) =>
        {
            for (int b = 0; b < span.Length; b += 6)
            {
                int bytes = r.Next() ^ (r.Next(2) << 31);
                int n = Math.Min(6, span.Length - b);
                // same bit slices and masks as RandomByteIterator.fillBytesImpl
                if (n > 5) span[b + 5] = Printable(((bytes >> 25) & 95) + ' ');
                if (n > 4) span[b + 4] = Printable(((bytes >> 20) & 63) + ' ');
                if (n > 3) span[b + 3] = Printable(((bytes >> 15) & 31) + ' ');
                if (n > 2) span[b + 2] = Printable(((bytes >> 10) & 95) + ' ');
                if (n > 1) span[b + 1] = Printable(((bytes >> 5) & 63) + ' ');
                span[b] = Printable((bytes & 31) + ' ');
            }
        });
    }

    private static char Printable(int c) => c >= 127 ? '~' : (char)c;
}

/// <summary>A source of numbers (YCSB's <c>NumberGenerator</c>). Thread-safe unless stated otherwise.</summary>
public abstract class NumberGenerator
{
    private long _last;

    /// <summary>The next number, using <paramref name="rng"/> for any randomness.</summary>
    public abstract long Next(Random rng);

    /// <summary>The last number returned by <see cref="Next"/> (racy across threads, as in YCSB).</summary>
    public virtual long LastValue => Volatile.Read(ref _last);

    /// <summary>Records the last value.</summary>
    protected long SetLast(long value)
    {
        Volatile.Write(ref _last, value);
        return value;
    }
}

/// <summary>Always the same number (YCSB's <c>ConstantIntegerGenerator</c>).</summary>
public sealed class ConstantGenerator(long value) : NumberGenerator
{
    /// <inheritdoc/>
    public override long Next(Random rng) => SetLast(value);
}

/// <summary>Uniform over [lb, ub] inclusive (YCSB's <c>UniformLongGenerator</c>).</summary>
public sealed class UniformLongGenerator : NumberGenerator
{
    private readonly long _lb, _ub;

    /// <summary>Creates the generator; requires <paramref name="lb"/> &lt;= <paramref name="ub"/>.</summary>
    public UniformLongGenerator(long lb, long ub)
    {
        if (lb > ub) throw new ArgumentException($"empty range [{lb}, {ub}]");
        _lb = lb;
        _ub = ub;
    }

    /// <inheritdoc/>
    public override long Next(Random rng) => SetLast(_ub == long.MaxValue ? _lb + rng.NextInt64(_ub - _lb) : rng.NextInt64(_lb, _ub + 1));
}

/// <summary>Increments from a start value (YCSB's <c>CounterGenerator</c>); thread-safe.</summary>
public class CounterGenerator : NumberGenerator
{
    private long _counter;

    /// <summary>Creates a counter whose first value is <paramref name="countStart"/>.</summary>
    public CounterGenerator(long countStart) => _counter = countStart;

    /// <summary>The next value (randomness unused).</summary>
    public long Next() => Interlocked.Increment(ref _counter) - 1;

    /// <inheritdoc/>
    public override long Next(Random rng) => Next();

    /// <summary>The last value handed out.</summary>
    public override long LastValue => Volatile.Read(ref _counter) - 1;
}

/// <summary>
/// A counter whose <see cref="LastValue"/> only advances over values that were acknowledged (YCSB's
/// <c>AcknowledgedCounterGenerator</c>): the run phase inserts with keys from it, and reads choose keys up to
/// <see cref="LastValue"/>, so they never target a key whose insert has not completed.
/// </summary>
/// <remarks>YCSB uses <c>tryLock</c> in <c>acknowledge</c>, which can leave the limit behind until the next
/// acknowledgement; here the window is always drained under the lock.</remarks>
public sealed class AcknowledgedCounterGenerator : CounterGenerator
{
    /// <summary>The size of the window of pending acknowledgements (2^20).</summary>
    public const int WindowSize = 1 << 20;
    private const int WindowMask = WindowSize - 1;
    private readonly bool[] _window = new bool[WindowSize];
    private readonly Lock _lock = new();
    private long _limit;

    /// <summary>Creates a counter whose first value is <paramref name="countStart"/>; <see cref="LastValue"/> starts at countStart - 1.</summary>
    public AcknowledgedCounterGenerator(long countStart) : base(countStart) => _limit = countStart - 1;

    /// <summary>The highest value v such that every value &lt;= v was acknowledged.</summary>
    public override long LastValue => Volatile.Read(ref _limit);

    /// <summary>Marks <paramref name="value"/> (obtained from <see cref="CounterGenerator.Next()"/>) as done.</summary>
    /// <exception cref="InvalidOperationException">more than <see cref="WindowSize"/> values are outstanding.</exception>
    public void Acknowledge(long value)
    {
        lock (_lock)
        {
            int slot = (int)(value & WindowMask);
            if (_window[slot])
                throw new InvalidOperationException("Too many unacknowledged insertion keys.");
            _window[slot] = true;
            long index = _limit + 1;
            for (long n = 0; n < WindowSize; n++, index++)
            {
                int s = (int)(index & WindowMask);
                if (!_window[s])
                    break;
                _window[s] = false;
            }
            Volatile.Write(ref _limit, index - 1);
        }
    }
}

/// <summary>
/// Zipfian over [min, max] (YCSB's <c>ZipfianGenerator</c>): item min is the most popular, min+1 the next, and so on.
/// Algorithm from Gray et al., "Quickly Generating Billion-Record Synthetic Databases", SIGMOD 1994; zeta is
/// extended incrementally when the item count grows (see <see cref="NextLong"/>).
/// </summary>
public sealed class ZipfianGenerator : NumberGenerator
{
    /// <summary>YCSB's default zipfian constant.</summary>
    public const double ZipfianConstant = 0.99;

    private readonly long _items;
    private readonly long _base;
    private readonly double _theta, _zeta2Theta, _alpha;
    private readonly Lock _lock = new();
    private State _state;

    private sealed record State(long CountForZeta, double Zetan, double Eta);

    /// <summary>Zipfian over [0, items - 1].</summary>
    public ZipfianGenerator(long items) : this(0, items - 1) { }

    /// <summary>Zipfian over [min, max] with the default constant.</summary>
    public ZipfianGenerator(long min, long max) : this(min, max, ZipfianConstant) { }

    /// <summary>Zipfian over [min, max] with the given constant (computes zeta: O(max - min)).</summary>
    public ZipfianGenerator(long min, long max, double zipfianConstant)
        : this(min, max, zipfianConstant, ZetaStatic(0, max - min + 1, zipfianConstant, 0)) { }

    /// <summary>Zipfian over [min, max] with a precomputed zeta(max - min + 1, constant).</summary>
    public ZipfianGenerator(long min, long max, double zipfianConstant, double zetan)
    {
        _items = max - min + 1;
        _base = min;
        _theta = zipfianConstant;
        _zeta2Theta = ZetaStatic(0, 2, _theta, 0);
        _alpha = 1.0 / (1.0 - _theta);
        _state = new State(_items, zetan, Eta(zetan));
    }

    /// <summary>zeta(n, theta) extended from st items to n items: initialSum + sum over i in [st, n) of 1/(i+1)^theta.</summary>
    public static double ZetaStatic(long st, long n, double theta, double initialSum)
    {
        double sum = initialSum;
        for (long i = st; i < n; i++)
            sum += 1 / Math.Pow(i + 1, theta);
        return sum;
    }

    /// <summary>zeta over the current item count (for tests: the most popular item has probability 1/zeta).</summary>
    public double Zetan => Volatile.Read(ref _state).Zetan;

    // As in YCSB, eta uses the item count given at construction even after zeta was extended.
    private double Eta(double zetan) => (1 - Math.Pow(2.0 / _items, 1 - _theta)) / (1 - _zeta2Theta / zetan);

    /// <summary>
    /// The next item for a distribution of <paramref name="itemcount"/> items starting at min. When itemcount grew
    /// since the last call, zeta is extended incrementally (cheap); it is never recomputed downwards (YCSB's
    /// <c>allowitemcountdecrease = false</c>).
    /// </summary>
    public long NextLong(Random rng, long itemcount)
    {
        var st = Volatile.Read(ref _state);
        if (itemcount > st.CountForZeta)
        {
            lock (_lock)
            {
                st = _state;
                if (itemcount > st.CountForZeta)
                {
                    double zetan = ZetaStatic(st.CountForZeta, itemcount, _theta, st.Zetan);
                    st = new State(itemcount, zetan, Eta(zetan));
                    Volatile.Write(ref _state, st);
                }
            }
        }

        double u = rng.NextDouble();
        double uz = u * st.Zetan;
        if (uz < 1.0)
            return SetLast(_base);
        if (uz < 1.0 + Math.Pow(0.5, _theta))
            return SetLast(_base + 1);
        return SetLast(_base + (long)(itemcount * Math.Pow(st.Eta * u - st.Eta + 1, _alpha)));
    }

    /// <inheritdoc/>
    public override long Next(Random rng) => NextLong(rng, _items);
}

/// <summary>
/// Zipfian whose popular items are scattered over [min, max] (YCSB's <c>ScrambledZipfianGenerator</c>): draws from a
/// zipfian over a fixed, huge item count (10^16, with its precomputed zeta) and maps the result into the range with
/// <see cref="YcsbUtils.FnvHash64"/> modulo the item count. Because the underlying item count is fixed, popularity does
/// not shift when the range grows.
/// </summary>
public sealed class ScrambledZipfianGenerator : NumberGenerator
{
    /// <summary>zeta(ITEM_COUNT, 0.99), precomputed by YCSB.</summary>
    public const double Zetan = 26.46902820178302;

    /// <summary>The fixed item count of the underlying zipfian.</summary>
    public const long ItemCount = 10000000000000000L;

    private readonly ZipfianGenerator _gen;
    private readonly long _min, _max, _itemcount;

    /// <summary>Scrambled zipfian over [0, items - 1].</summary>
    public ScrambledZipfianGenerator(long items) : this(0, items - 1) { }

    /// <summary>Scrambled zipfian over [min, max] (constant 0.99).</summary>
    public ScrambledZipfianGenerator(long min, long max)
    {
        if (min > max) throw new ArgumentException($"empty range [{min}, {max}]");
        _min = min;
        _max = max;
        _itemcount = max - min + 1;
        _gen = new ZipfianGenerator(0, ItemCount, ZipfianGenerator.ZipfianConstant, Zetan);
    }

    /// <inheritdoc/>
    public override long Next(Random rng)
    {
        long ret = _gen.Next(rng);
        return SetLast(_min + YcsbUtils.FnvHash64(ret) % _itemcount);
    }

    /// <summary>Mean of the (scrambled, hence roughly uniform) values.</summary>
    public double Mean => (_min + (double)_max) / 2.0;
}

/// <summary>
/// Favours the items most recently produced by a counter (YCSB's <c>SkewedLatestGenerator</c>, the <c>latest</c>
/// request distribution): <c>last - zipfian(last)</c>, where last is the counter's <see cref="NumberGenerator.LastValue"/>.
/// </summary>
public sealed class SkewedLatestGenerator : NumberGenerator
{
    private readonly NumberGenerator _basis;
    private readonly ZipfianGenerator _zipfian;

    /// <summary>Creates the generator over <paramref name="basis"/> (typically an <see cref="AcknowledgedCounterGenerator"/>).</summary>
    public SkewedLatestGenerator(NumberGenerator basis)
    {
        _basis = basis;
        _zipfian = new ZipfianGenerator(Math.Max(1, basis.LastValue));
    }

    /// <inheritdoc/>
    public override long Next(Random rng)
    {
        long max = _basis.LastValue;
        return SetLast(max - _zipfian.NextLong(rng, max));
    }
}

/// <summary>
/// A hotspot over [lowerBound, upperBound] (YCSB's <c>HotspotIntegerGenerator</c>): a fraction
/// <c>hotOpnFraction</c> of the values fall uniformly into the first <c>hotsetFraction</c> of the range (the hot set),
/// the rest uniformly into the remainder.
/// </summary>
public sealed class HotspotIntegerGenerator : NumberGenerator
{
    private readonly long _lower, _hotInterval, _coldInterval;
    private readonly double _hotOpnFraction;

    /// <summary>Creates the generator; fractions outside [0, 1] are treated as 0, as in YCSB.</summary>
    public HotspotIntegerGenerator(long lowerBound, long upperBound, double hotsetFraction, double hotOpnFraction)
    {
        if (hotsetFraction is < 0.0 or > 1.0) hotsetFraction = 0.0;
        if (hotOpnFraction is < 0.0 or > 1.0) hotOpnFraction = 0.0;
        if (lowerBound > upperBound) (lowerBound, upperBound) = (upperBound, lowerBound);
        _lower = lowerBound;
        long interval = upperBound - lowerBound + 1;
        _hotInterval = (long)(interval * hotsetFraction);
        _coldInterval = interval - _hotInterval;
        _hotOpnFraction = hotOpnFraction;
    }

    /// <inheritdoc/>
    public override long Next(Random rng)
    {
        // Empty hot (or cold) set: everything goes to the other one (YCSB would divide by zero).
        bool hot = _coldInterval == 0 || (_hotInterval > 0 && rng.NextDouble() < _hotOpnFraction);
        return SetLast(hot
            ? _lower + rng.NextInt64(_hotInterval)
            : _lower + _hotInterval + rng.NextInt64(_coldInterval));
    }
}

/// <summary>Chooses among weighted values (YCSB's <c>DiscreteGenerator</c>); weights are normalised by their sum.</summary>
public sealed class DiscreteGenerator<T>
{
    private readonly List<(double Weight, T Value)> _values = [];
    private double _sum;

    /// <summary>Adds a value with its weight (ignored when the weight is not positive).</summary>
    public DiscreteGenerator<T> Add(double weight, T value)
    {
        if (weight > 0)
        {
            _values.Add((weight, value));
            _sum += weight;
        }
        return this;
    }

    /// <summary>The values with positive weight, in insertion order.</summary>
    public IReadOnlyList<(double Weight, T Value)> Values => _values;

    /// <summary>The next value. Not to be called while values are being added.</summary>
    public T Next(Random rng)
    {
        if (_values.Count == 0) throw new InvalidOperationException("no values with positive weight");
        double val = rng.NextDouble();
        foreach (var (weight, value) in _values)
        {
            double pw = weight / _sum;
            if (val < pw)
                return value;
            val -= pw;
        }
        return _values[^1].Value; // rounding
    }
}
