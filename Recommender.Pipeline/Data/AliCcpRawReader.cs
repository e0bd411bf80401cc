using System.Text;

namespace Recommender.Pipeline.Data;

/// <summary>
/// Ali-CCP's raw release: <c>sample_skeleton_*.csv</c> rows
/// (<c>sample_id,click,conversion,common_feature_index,feature_num,feature_list</c>) joined with
/// <c>common_features_*.csv</c> rows (<c>common_feature_index,feature_num,feature_list</c>). A feature list
/// holds features separated by <c>\x01</c>, each <c>field\x02feature_id\x03value</c>.
/// </summary>
/// <remarks>
/// Memory is bounded independently of the skeleton's size: one streaming pass indexes the common-features
/// file (key -> byte offset; tens of MB for the full release), then the skeleton streams and each row's
/// common features are read by seeking, through a small LRU cache (skeleton rows sharing a key are
/// adjacent in the release, so the cache hits almost always). For a field with several features the
/// first one wins; its id is the categorical value and its value the dense value <c>D{field}</c>.
/// </remarks>
public sealed class AliCcpRawReader : ITableReader
{
    /// <summary>The categorical fields the wide Ali-CCP layout keeps.</summary>
    public static readonly string[] DefaultCategoricalFields =
        ["101", "121", "122", "124", "125", "126", "127", "128", "129", "205", "206", "207", "210", "216", "508", "509", "702", "853", "301", "109_14", "110_14", "127_14", "150_14"];

    /// <summary>The fields whose values the wide layout keeps as dense columns.</summary>
    public static readonly string[] DefaultDenseFields = ["109_14", "110_14", "127_14", "150_14", "508", "509", "702", "853"];

    private const int CacheSize = 4096;
    private readonly string _skeleton;
    private readonly string _common;
    private readonly string[] _categorical;
    private readonly string[] _dense;
    private readonly bool _skipBadRows;

    /// <summary>Binds the schema to the joined layout: <c>click</c>, <c>conversion</c>, one column per categorical field, <c>D{field}</c> per dense field.</summary>
    public AliCcpRawReader(string skeletonPath, string commonFeaturesPath, DatasetSchema schema)
    {
        foreach (var p in new[] { skeletonPath, commonFeaturesPath })
            if (!File.Exists(p)) throw new FileNotFoundException($"{p}: file not found", p);
        _skeleton = skeletonPath;
        _common = commonFeaturesPath;
        _categorical = (schema.AliCcpCategoricalFields ?? DefaultCategoricalFields.ToList()).ToArray();
        _dense = (schema.AliCcpDenseFields ?? DefaultDenseFields.ToList()).ToArray();
        _skipBadRows = schema.SkipBadRows;
        var header = new[] { "sample_id", "click", "conversion" }.Concat(_categorical).Concat(_dense.Select(f => "D" + f)).ToArray();
        Resolved = schema.Resolve(header, skeletonPath);
    }

    /// <summary>The common-features file that belongs beside a skeleton file (<c>sample_skeleton_X</c> -> <c>common_features_X</c>).</summary>
    public static string CommonFeaturesPathFor(string skeletonPath) =>
        Path.Combine(Path.GetDirectoryName(skeletonPath) ?? ".", Path.GetFileName(skeletonPath).Replace("sample_skeleton", "common_features", StringComparison.Ordinal));

    /// <inheritdoc/>
    public ResolvedSchema Resolved { get; }

    /// <inheritdoc/>
    public IEnumerable<TableChunk> ReadChunks(LoadReport report, int chunkRows, Action<IRecord, DataFormatException>? rejected)
    {
        var index = IndexCommonFeatures();
        using var common = new FileStream(_common, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 12);
        var cache = new Dictionary<string, LinkedListNode<(string Key, Dictionary<string, (string Id, string Value)> Features)>>(StringComparer.Ordinal);
        var lru = new LinkedList<(string Key, Dictionary<string, (string Id, string Value)> Features)>();
        var builder = new TableBuilder(Resolved, report, chunkSize: chunkRows) { Rejected = rejected };
        int fields = 3 + _categorical.Length + _dense.Length;
        var record = new ArrayRecord(fields) { File = _skeleton };
        var columns = new int[fields];
        record.Columns = columns;
        var own = new Dictionary<string, (string Id, string Value)>(StringComparer.Ordinal);

        using var skeleton = new DelimitedReader(_skeleton, ',', allowQuotes: false);
        while (skeleton.Read())
        {
            record.Line = skeleton.LineNumber;
            if (skeleton.Malformed is { } malformed)
            {
                if (!Skip(report, malformed)) throw malformed;
                continue;
            }
            if (skeleton.FieldCount < 6)
            {
                var error = skeleton.RecordError($"expected 6 fields (sample_id,click,conversion,common_feature_index,feature_num,feature_list), found {skeleton.FieldCount}");
                if (!Skip(report, error)) throw error;
                continue;
            }
            string key = skeleton[3].ToString();
            if (!cache.TryGetValue(key, out var node))
            {
                if (!index.TryGetValue(key, out long offset))
                {
                    var error = skeleton.Error(3, $"common_feature_index '{key}' is not in {_common}");
                    if (!Skip(report, error)) throw error;
                    continue;
                }
                var parsed = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
                ParseFeatureList(ReadLineAt(common, offset), 2, parsed);
                node = lru.AddFirst((key, parsed));
                cache[key] = node;
                if (cache.Count > CacheSize) { cache.Remove(lru.Last!.Value.Key); lru.RemoveLast(); }
            }
            else if (node != lru.First) { lru.Remove(node); lru.AddFirst(node); }

            own.Clear();
            ParseFeatureList(skeleton[5].ToString(), -1, own, skeleton.ColumnOf(5));
            var shared = node.Value.Features;
            record.Set(0, skeleton[0].ToString()); columns[0] = skeleton.ColumnOf(0);
            record.Set(1, skeleton[1].ToString()); columns[1] = skeleton.ColumnOf(1);
            record.Set(2, skeleton[2].ToString()); columns[2] = skeleton.ColumnOf(2);
            for (int f = 0; f < _categorical.Length; f++)
            {
                string field = _categorical[f];
                record.Set(3 + f, own.TryGetValue(field, out var v) || shared.TryGetValue(field, out v) ? v.Id : "");
                columns[3 + f] = skeleton.ColumnOf(5);
            }
            for (int f = 0; f < _dense.Length; f++)
            {
                string field = _dense[f];
                record.Set(3 + _categorical.Length + f, own.TryGetValue(field, out var v) || shared.TryGetValue(field, out v) ? v.Value : "");
                columns[3 + _categorical.Length + f] = skeleton.ColumnOf(5);
            }
            var chunk = builder.Add(record);
            if (chunk is not null) yield return chunk;
        }
        var last = builder.Flush();
        if (last is not null) yield return last;
    }

    private bool Skip(LoadReport report, DataFormatException error)
    {
        if (!_skipBadRows) return false;
        report.RowsRead++;
        report.BadRowsSkipped++;
        report.AddExample(error.Message);
        return true;
    }

    // Byte offsets of every common-features line, keyed by its first field.
    private Dictionary<string, long> IndexCommonFeatures()
    {
        var index = new Dictionary<string, long>(StringComparer.Ordinal);
        using var stream = new FileStream(_common, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var buffer = new byte[1 << 20];
        var key = new StringBuilder();
        long position = 0, lineStart = 0;
        bool inKey = true;
        long lineNumber = 1;
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            for (int i = 0; i < read; i++, position++)
            {
                byte b = buffer[i];
                if (b == (byte)'\n')
                {
                    AddKey(index, key, lineStart, lineNumber++);
                    lineStart = position + 1;
                    inKey = true;
                }
                else if (inKey)
                {
                    if (b == (byte)',') inKey = false;
                    else if (b != (byte)'\r') key.Append((char)b);
                }
            }
        }
        if (position > lineStart) AddKey(index, key, lineStart, lineNumber);
        return index;
    }

    private void AddKey(Dictionary<string, long> index, StringBuilder key, long offset, long line)
    {
        if (key.Length > 0 && !index.TryAdd(key.ToString(), offset))
            throw new DataFormatException(_common, line, 1, $"common_feature_index '{key}' appears twice");
        key.Clear();
    }

    private static string ReadLineAt(FileStream stream, long offset)
    {
        stream.Position = offset;
        var bytes = new List<byte>(256);
        int b;
        while ((b = stream.ReadByte()) >= 0 && b != '\n') if (b != '\r') bytes.Add((byte)b);
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    // listField: which comma field holds the list (2 in common features; -1 = the whole string is the list).
    private static void ParseFeatureList(string text, int listField, Dictionary<string, (string Id, string Value)> into, int column = 0)
    {
        string list = text;
        if (listField >= 0)
        {
            int start = 0;
            for (int i = 0; i < listField; i++) start = text.IndexOf(',', start) + 1;
            list = start > 0 ? text[start..] : "";
        }
        foreach (var feature in list.Split('\x01', StringSplitOptions.RemoveEmptyEntries))
        {
            int a = feature.IndexOf('\x02'), b = feature.IndexOf('\x03');
            if (a <= 0 || b <= a) continue;
            string field = feature[..a];
            into.TryAdd(field, (field + ":" + feature[(a + 1)..b], feature[(b + 1)..]));
        }
    }
}
