namespace Recommender.Pipeline.Data.Synthetic;

/// <summary>
/// xoshiro256** seeded through SplitMix64: fast, and its stream for a seed never changes between .NET
/// versions (unlike <see cref="Random"/>), so generated data is reproducible forever.
/// </summary>
public struct Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spare;
    private bool _hasSpare;

    /// <summary>Seeds the generator; <paramref name="stream"/> selects an independent stream for the same seed.</summary>
    public Rng(ulong seed, ulong stream = 0)
    {
        ulong x = seed ^ (stream * 0xD1B54A32D192ED03UL);
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
        _spare = 0;
        _hasSpare = false;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n) => (int)((NextUInt64() >> 32) * (ulong)n >> 32);

    /// <summary>Standard normal (Box-Muller).</summary>
    public double NextGaussian()
    {
        if (_hasSpare) { _hasSpare = false; return _spare; }
        double u, v, s;
        do { u = 2 * NextDouble() - 1; v = 2 * NextDouble() - 1; s = u * u + v * v; } while (s >= 1 || s == 0);
        double f = Math.Sqrt(-2 * Math.Log(s) / s);
        _spare = v * f;
        _hasSpare = true;
        return u * f;
    }

    /// <summary>Exponential with the given mean.</summary>
    public double NextExponential(double mean) => -mean * Math.Log(1 - NextDouble());

    /// <summary>Index drawn from a cumulative weight table (last entry = total).</summary>
    public int Pick(double[] cumulative) => Pick(cumulative, 0, cumulative.Length);

    /// <summary>Index in [start, end) drawn from the cumulative weights of that segment.</summary>
    public int Pick(double[] cumulative, int start, int end)
    {
        double low = start == 0 ? 0 : cumulative[start - 1];
        double target = low + NextDouble() * (cumulative[end - 1] - low);
        int i = Array.BinarySearch(cumulative, start, end - start, target);
        i = i < 0 ? ~i : i + 1;
        return Math.Min(i, end - 1);
    }
}
