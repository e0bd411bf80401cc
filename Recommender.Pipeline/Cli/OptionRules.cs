using System.CommandLine;

namespace Recommender.Pipeline.Cli;

/// <summary>Range rules for numeric options, checked while parsing so a bad value is one line before any work starts.</summary>
internal static class OptionRules
{
    /// <summary>The value, when given, must be at least <paramref name="min"/>.</summary>
    public static Option<T> AtLeast<T>(this Option<T> option, double min)
    {
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count == 0 && r.Implicit) return;
            if (ToDouble(r.GetValueOrDefault<T>()) is { } v && !(v >= min)) r.AddError($"{option.Name} must be at least {min}, got {Format(v)}");
        });
        return option;
    }

    /// <summary>The value, when given, must be at most <paramref name="max"/>.</summary>
    public static Option<T> AtMost<T>(this Option<T> option, double max)
    {
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count == 0 && r.Implicit) return;
            if (ToDouble(r.GetValueOrDefault<T>()) is { } v && !(v <= max)) r.AddError($"{option.Name} must be at most {max}, got {Format(v)}");
        });
        return option;
    }

    /// <summary>The value, when given, must be a finite number, at least <paramref name="min"/>.</summary>
    public static Option<T> Finite<T>(this Option<T> option, double min = double.NegativeInfinity)
    {
        option.Validators.Add(r =>
        {
            if (ToDouble(r.GetValueOrDefault<T>()) is { } v && (!double.IsFinite(v) || v < min))
                r.AddError($"{option.Name} must be a finite number{(double.IsNegativeInfinity(min) ? "" : $" >= {min}")}, got {Format(v)}");
        });
        return option;
    }

    /// <summary>The value, when given, must be a finite number in [<paramref name="min"/>, <paramref name="below"/>).</summary>
    public static Option<T> InRange<T>(this Option<T> option, double min, double below)
    {
        option.Validators.Add(r =>
        {
            if (ToDouble(r.GetValueOrDefault<T>()) is { } v && !(double.IsFinite(v) && v >= min && v < below))
                r.AddError($"{option.Name} must be a number in [{min}, {below}), got {Format(v)}");
        });
        return option;
    }

    /// <summary>The value, when given, must be a finite number above zero.</summary>
    public static Option<T> Positive<T>(this Option<T> option)
    {
        option.Validators.Add(r =>
        {
            if (ToDouble(r.GetValueOrDefault<T>()) is { } v && !(double.IsFinite(v) && v > 0)) r.AddError($"{option.Name} must be a finite number above 0, got {Format(v)}");
        });
        return option;
    }

    /// <summary>Every value of a list option must be a finite number, at least <paramref name="min"/>.</summary>
    public static Option<float[]> AllFinite(this Option<float[]> option, double min)
    {
        option.Validators.Add(r =>
        {
            foreach (var v in r.GetValueOrDefault<float[]>() ?? [])
                if (!float.IsFinite(v) || v < min) { r.AddError($"{option.Name}: every value must be a finite number >= {min}, got {Format(v)}"); return; }
        });
        return option;
    }

    private static double? ToDouble<T>(T value) => value switch
    {
        null => null,
        int i => i,
        long l => l,
        ulong u => u,
        float f => f,
        double d => d,
        _ => null,
    };

    private static string Format(double v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
