using System.Globalization;
using System.Text;

namespace Recommender.Pipeline.Data;

/// <summary>What <see cref="TaobaoUserBehavior.Convert"/> wrote.</summary>
public sealed record TaobaoConversion(string Directory, long Events, long Impressions, long Clicks, long Conversions, long EngagementsWithoutView,
    long TrainRows, long ValidRows, long TestRows);

/// <summary>
/// Turns Taobao's UserBehavior log (Tianchi, 2017; no header: <c>user,item,category,behavior,timestamp</c>, behavior
/// <c>pv</c>, <c>cart</c>, <c>fav</c> or <c>buy</c>) into impressions with histories, in the layout <c>generate</c>
/// writes: each page view (<c>pv</c>) is an impression; its <c>click</c> is 1 when the user later carts, favours or
/// buys that item and this is the user's latest view of it before that, its <c>conversion</c> 1 when that engagement
/// includes a purchase; its histories are the user's last viewed items and their categories strictly before its time
/// (<c>recent_items</c>, <c>recent_categories</c>, declared as sequences). Rows are split by time into train, valid
/// and test. The whole log is held in memory (about 40 bytes an event): the 100-million-event release needs a sample.
/// </summary>
public static class TaobaoUserBehavior
{
    private const byte View = 0, Cart = 1, Favourite = 2, Buy = 3;

    private readonly record struct Event(long User, long Item, long Category, byte Behavior, long Time);

    /// <summary>The schema of the converted files.</summary>
    public static DatasetSchema Schema(int history) => new()
    {
        Name = "taobao-user-behavior", Format = DataFormat.Csv, User = "user_id", Item = "item_id", Group = "user_id", Time = "timestamp",
        Categorical = ["category", "hour", "weekday"], Click = "click", Conversion = "conversion", Rating = null,
        Sequences = [new() { Column = "recent_items", Field = "item_id", Length = history }, new() { Column = "recent_categories", Field = "category", Length = history }],
    };

    /// <summary>Converts <paramref name="input"/> into <paramref name="directory"/> (schema.json, train.csv, valid.csv, test.csv, each written atomically).</summary>
    public static TaobaoConversion Convert(string input, string directory, int history = 20, double validFraction = 0.1, double testFraction = 0.1)
    {
        if (history is < 1 or > 1000) throw new ArgumentOutOfRangeException(nameof(history), history, "history must be in 1..1000");
        if (!(validFraction >= 0 && testFraction > 0 && validFraction + testFraction < 1)) throw new ArgumentException("the valid and test fractions must leave rows to train on");
        var events = Read(input);
        // Time order; a stable sort keeps the file's order among the events of one second.
        var order = Enumerable.Range(0, events.Count).ToArray();
        Array.Sort(order, (a, b) => events[a].Time != events[b].Time ? events[a].Time.CompareTo(events[b].Time) : a.CompareTo(b));

        // Labels: an engagement marks the user's latest view of the item at or before it; one without a view is counted.
        var lastView = new Dictionary<(long User, long Item), int>();
        var click = new bool[events.Count];
        var conversion = new bool[events.Count];
        long orphans = 0;
        foreach (int e in order)
        {
            var x = events[e];
            if (x.Behavior == View) { lastView[(x.User, x.Item)] = e; continue; }
            if (!lastView.TryGetValue((x.User, x.Item), out int view)) { orphans++; continue; }
            click[view] = true;
            if (x.Behavior == Buy) conversion[view] = true;
        }

        var views = order.Where(e => events[e].Behavior == View).ToArray();
        long test = (long)Math.Round(views.Length * testFraction), valid = (long)Math.Round(views.Length * validFraction), train = views.Length - valid - test;
        if (train < 1) throw new InvalidDataException($"{input}: {views.Length} page views are too few to split");
        Directory.CreateDirectory(directory);
        string[] names = ["train.csv", "valid.csv", "test.csv"];
        var files = new (FileStream Stream, string Temp)[names.Length];
        for (int f = 0; f < names.Length; f++) { files[f].Stream = AtomicFile.CreateTemp(Path.Combine(directory, names[f]), out var temp); files[f].Temp = temp; }
        try
        {
            var text = files.Select(f => new StreamWriter(f.Stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true)).ToArray();
            foreach (var w in text) w.Write("user_id,item_id,category,hour,weekday,click,conversion,timestamp,recent_items,recent_categories\n");
            // Each user's views so far, in time order.
            var seen = new Dictionary<long, List<Event>>();
            long clicks = 0, conversions = 0;
            for (int i = 0; i < views.Length; i++)
            {
                var x = events[views[i]];
                if (!seen.TryGetValue(x.User, out var past)) seen[x.User] = past = new();
                int end = past.Count;
                while (end > 0 && past[end - 1].Time >= x.Time) end--;
                var before = past.GetRange(Math.Max(0, end - history), Math.Min(history, end));
                var time = DateTimeOffset.FromUnixTimeSeconds(x.Time);
                var w = text[i < train ? 0 : i < train + valid ? 1 : 2];
                w.Write(string.Create(CultureInfo.InvariantCulture,
                    $"{x.User},{x.Item},{x.Category},{time.Hour},{(int)time.DayOfWeek},{(click[views[i]] ? 1 : 0)},{(conversion[views[i]] ? 1 : 0)},{x.Time},"));
                w.Write(string.Join('|', before.Select(b => b.Item)));
                w.Write(',');
                w.Write(string.Join('|', before.Select(b => b.Category)));
                w.Write('\n');
                clicks += click[views[i]] ? 1 : 0;
                conversions += conversion[views[i]] ? 1 : 0;
                past.Add(x);
            }
            foreach (var w in text) w.Dispose();
            for (int f = 0; f < names.Length; f++) AtomicFile.Commit(files[f].Stream, files[f].Temp, Path.Combine(directory, names[f]));
            Schema(history).Save(Path.Combine(directory, "schema.json"));
            return new TaobaoConversion(directory, events.Count, views.Length, clicks, conversions, orphans, train, valid, test);
        }
        catch
        {
            foreach (var (stream, temp) in files) AtomicFile.Abandon(stream, temp);
            throw;
        }
    }

    // Every event of the file; a malformed one stops the conversion at file:line:column.
    private static List<Event> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        var events = new List<Event>();
        long line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            var fields = text.Split(',');
            if (fields.Length != 5) throw new DataFormatException(path, line, 1, $"expected 5 fields (user,item,category,behavior,timestamp), found {fields.Length}");
            long Number(int i, string what) => long.TryParse(fields[i].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) && v >= 0 ? v
                : throw new DataFormatException(path, line, i + 1, $"{what} must be a non-negative integer, got '{fields[i]}'");
            byte behavior = fields[3].Trim() switch
            {
                "pv" => View, "cart" => Cart, "fav" => Favourite, "buy" => Buy,
                var b => throw new DataFormatException(path, line, 4, $"behavior must be pv, cart, fav or buy, got '{b}'"),
            };
            events.Add(new Event(Number(0, "user"), Number(1, "item"), Number(2, "category"), behavior, Number(4, "timestamp")));
        }
        if (events.Count == 0) throw new InvalidDataException($"{path}: no events");
        return events;
    }
}
