using Microsoft.ML;
using Microsoft.ML.Data;

namespace Recommender.Pipeline.Data;

/// <summary>
/// An <see cref="IDataView"/> over <see cref="TableChunk"/>s: text columns as <see cref="TextDataViewType"/>,
/// float columns as <see cref="NumberDataViewType.Single"/>. The chunks come from a factory, so the
/// view can be in memory (a list) or streamed from a file on every cursor (bounded memory).
/// </summary>
public sealed class TableDataView : IDataView
{
    private readonly Func<IEnumerable<TableChunk>> _chunks;
    private readonly long? _rowCount;

    /// <summary>Creates a view with the given column names.</summary>
    public TableDataView(IReadOnlyList<string> textColumns, IReadOnlyList<string> numberColumns,
        Func<IEnumerable<TableChunk>> chunks, long? rowCount)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var name in textColumns) builder.AddColumn(name, TextDataViewType.Instance);
        foreach (var name in numberColumns) builder.AddColumn(name, NumberDataViewType.Single);
        Schema = builder.ToSchema();
        TextColumnCount = textColumns.Count;
        _chunks = chunks;
        _rowCount = rowCount;
    }

    internal int TextColumnCount { get; }

    /// <inheritdoc/>
    public bool CanShuffle => false;

    /// <inheritdoc/>
    public DataViewSchema Schema { get; }

    /// <inheritdoc/>
    public long? GetRowCount() => _rowCount;

    /// <inheritdoc/>
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded);

    /// <inheritdoc/>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly TableDataView _view;
        private readonly bool[] _active;
        private readonly IEnumerator<TableChunk> _chunks;
        private TableChunk? _chunk;
        private int _row = -1;
        private long _position = -1;

        public Cursor(TableDataView view, IEnumerable<DataViewSchema.Column> columnsNeeded)
        {
            _view = view;
            _active = new bool[view.Schema.Count];
            foreach (var c in columnsNeeded) _active[c.Index] = true;
            _chunks = view._chunks().GetEnumerator();
        }

        public override DataViewSchema Schema => _view.Schema;
        public override long Position => _position;
        public override long Batch => 0;

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId value) => value = new DataViewRowId((ulong)_position, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int index = column.Index;
            if (index < _view.TextColumnCount)
            {
                if (typeof(TValue) != typeof(ReadOnlyMemory<char>))
                    throw new InvalidOperationException($"column '{column.Name}' is text; asked for {typeof(TValue).Name}");
                ValueGetter<ReadOnlyMemory<char>> text = (ref ReadOnlyMemory<char> value) =>
                    value = (_chunk!.Text[index][_row] ?? "").AsMemory();
                return (ValueGetter<TValue>)(Delegate)text;
            }
            if (typeof(TValue) != typeof(float))
                throw new InvalidOperationException($"column '{column.Name}' is Single; asked for {typeof(TValue).Name}");
            int number = index - _view.TextColumnCount;
            ValueGetter<float> getter = (ref float value) => value = _chunk!.Numbers[number][_row];
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        public override bool MoveNext()
        {
            while (_chunk is null || ++_row >= _chunk.Count)
            {
                if (!_chunks.MoveNext()) { _chunk = null; return false; }
                _chunk = _chunks.Current;
                _row = -1;
            }
            _position++;
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _chunks.Dispose();
            base.Dispose(disposing);
        }
    }
}
