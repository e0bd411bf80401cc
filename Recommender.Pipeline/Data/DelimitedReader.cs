using System.Text;

namespace Recommender.Pipeline.Data;

/// <summary>
/// A streaming reader of delimited text (CSV, TSV, or any single-character separator) that keeps
/// the line and character column of every field, so parse errors can name <c>file:line:column</c>.
/// Quoted fields follow RFC 4180 (doubled quotes inside, separators allowed; newlines only where the schema allows
/// multi-line fields). A record that cannot be split — a quote left open, text after a closing quote, bytes that are
/// not UTF-8 — is still returned, with <see cref="Malformed"/> saying why, so the caller fails on it or quarantines it
/// like any other bad row. Fields are exposed as spans over an internal buffer: no allocation per field.
/// </summary>
public sealed class DelimitedReader : IRecord, IDisposable
{
    private readonly TextReader _reader;
    private readonly char _separator;
    private readonly bool _quotes;
    private readonly bool _multiline;
    // Bytes that are not UTF-8 decode to this noncharacter (never legitimate in interchanged text), so a line can say
    // where they were; the default fallback would silently turn them into U+FFFD.
    private const char Invalid = '\uFFFF';
    private static readonly Encoding StrictUtf8 = CreateEncoding();
    private readonly StringBuilder _quoted = new();
    private char[] _line = new char[4096];
    private int _lineLength;
    private readonly List<(int Start, int Length, int Column)> _fields = new();
    private char[] _unquoted = new char[256];
    private int _unquotedLength;
    private readonly List<(int Start, int Length)> _unquotedFields = new();

    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    public DelimitedReader(string path, char separator, bool allowQuotes = true, bool multilineFields = false)
        : this(new StreamReader(path, StrictUtf8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16), path, separator, allowQuotes, multilineFields)
    {
    }

    /// <summary>Reads from an open reader; <paramref name="name"/> is used in error messages.</summary>
    public DelimitedReader(TextReader reader, string name, char separator, bool allowQuotes = true, bool multilineFields = false)
    {
        _reader = reader;
        FileName = name;
        _separator = separator;
        _quotes = allowQuotes;
        _multiline = multilineFields;
    }

    private static Encoding CreateEncoding()
    {
        var utf8 = (Encoding)new UTF8Encoding(false).Clone();
        utf8.DecoderFallback = new DecoderReplacementFallback(Invalid.ToString());
        return utf8;
    }

    /// <inheritdoc/>
    public DataFormatException? Malformed { get; private set; }

    /// <summary>The name used in error messages.</summary>
    public string FileName { get; }

    /// <summary>1-based line number of the start of the current record.</summary>
    public long LineNumber { get; private set; }

    private long _nextLine = 1;

    /// <summary>The current record's text as read (quoted newlines included).</summary>
    public string CurrentText => new(_line, 0, _lineLength);

    /// <summary>Number of fields in the current record.</summary>
    public int FieldCount => _fields.Count;

    /// <summary>Advances to the next non-empty record; false at the end of the input.</summary>
    public bool Read()
    {
        while (true)
        {
            string? line = _reader.ReadLine();
            if (line is null) return false;
            LineNumber = _nextLine++;
            if (line.Length == 0) continue;
            Malformed = null;
            try { Split(line); }
            catch (DataFormatException e)
            {
                _fields.Clear();
                Malformed = e;
            }
            return true;
        }
    }

    /// <summary>The text of field <paramref name="index"/> of the current record.</summary>
    public ReadOnlySpan<char> this[int index]
    {
        get
        {
            var (start, length, column) = _fields[index];
            if (column < 0) return _unquoted.AsSpan(_unquotedFields[start].Start, _unquotedFields[start].Length);
            return _line.AsSpan(start, length);
        }
    }

    /// <summary>The 1-based character column where field <paramref name="index"/> starts.</summary>
    public int ColumnOf(int index) => Math.Abs(_fields[index].Column);

    /// <summary>A located error for field <paramref name="index"/> of the current record.</summary>
    public DataFormatException Error(int index, string message) =>
        new(FileName, LineNumber, index < _fields.Count ? ColumnOf(index) : 1, message);

    /// <summary>A located error for the current record as a whole.</summary>
    public DataFormatException RecordError(string message) => new(FileName, LineNumber, 1, message);

    private void Split(string firstLine)
    {
        _fields.Clear();
        _unquotedFields.Clear();
        _unquotedLength = 0;
        string text = firstLine;
        int invalid = text.IndexOf(Invalid);
        if (invalid >= 0) throw new DataFormatException(FileName, LineNumber, invalid + 1, "bytes that are not valid UTF-8");
        if (_quotes && text.Contains('"')) text = CompleteQuotedRecord(text);
        if (_line.Length < text.Length) _line = new char[Math.Max(text.Length, _line.Length * 2)];
        text.CopyTo(0, _line, 0, text.Length);
        _lineLength = text.Length;
        if (_lineLength > 0 && _line[_lineLength - 1] == '\r') _lineLength--;

        int pos = 0;
        while (true)
        {
            int column = pos + 1;
            if (_quotes && pos < _lineLength && _line[pos] == '"')
            {
                pos = ReadQuoted(pos, column);
            }
            else
            {
                int end = Array.IndexOf(_line, _separator, pos, _lineLength - pos);
                if (end < 0) end = _lineLength;
                _fields.Add((pos, end - pos, column));
                pos = end;
            }
            if (pos >= _lineLength) break;
            pos++; // separator
            if (pos == _lineLength) { _fields.Add((pos, 0, pos + 1)); break; }
        }
    }

    private int ReadQuoted(int pos, int column)
    {
        int start = _unquotedLength;
        int i = pos + 1;
        while (true)
        {
            if (i >= _lineLength)
                throw new DataFormatException(FileName, LineNumber, column, "unterminated quoted field");
            char c = _line[i];
            if (c == '"')
            {
                if (i + 1 < _lineLength && _line[i + 1] == '"') { Append('"'); i += 2; continue; }
                i++;
                break;
            }
            Append(c);
            i++;
        }
        if (i < _lineLength && _line[i] != _separator)
            throw new DataFormatException(FileName, LineNumber, i + 1, $"unexpected character '{_line[i]}' after a closing quote");
        _unquotedFields.Add((start, _unquotedLength - start));
        _fields.Add((_unquotedFields.Count - 1, 0, -column));
        return i;
    }

    private void Append(char c)
    {
        if (_unquotedLength == _unquoted.Length) Array.Resize(ref _unquoted, _unquoted.Length * 2);
        _unquoted[_unquotedLength++] = c;
    }

    // A quote left open at the end of a line: with multi-line fields the record goes on over the next lines (each
    // scanned once, so the cost is linear in the input); without, it is this line's error, so a stray quote cannot
    // swallow the rows after it.
    private string CompleteQuotedRecord(string line)
    {
        int open = OpenQuote(line);
        if (open < 0) return line;
        if (!_multiline)
            throw new DataFormatException(FileName, LineNumber, open + 1, "unterminated quoted field (a quote opens a field that this line does not close; set multilineFields in the schema if fields span lines)");
        _quoted.Clear().Append(line);
        // Every quote character toggles the state (an escaped "" toggles twice), so each line's parity is enough.
        bool inQuote = true;
        while (inQuote)
        {
            string? next = _reader.ReadLine();
            if (next is null) break;
            _nextLine++;
            int invalid = next.IndexOf(Invalid);
            if (invalid >= 0) throw new DataFormatException(FileName, _nextLine - 1, invalid + 1, "bytes that are not valid UTF-8");
            _quoted.Append('\n').Append(next);
            if (next.AsSpan().Count('"') % 2 == 1) inQuote = false;
        }
        return _quoted.ToString();
    }

    // The index of the quote still open at the end of the line, or -1.
    private static int OpenQuote(string text)
    {
        int open = -1;
        for (int i = text.IndexOf('"'); i >= 0; i = text.IndexOf('"', i + 1)) open = open < 0 ? i : -1;
        return open;
    }

    /// <inheritdoc/>
    public void Dispose() => _reader.Dispose();
}
