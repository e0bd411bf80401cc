using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Trainers.Training;

namespace Recommender.Trainers;

/// <summary>
/// What <see cref="MultiTaskEstimator.Fit(IDataView)"/> returns: the fitted model as ML.NET's own transformers (key
/// conversions, <c>ApplyOnnxModel</c> over the exported network, a column drop), with the trained model beside them.
/// It saves as those transformers (so <c>mlContext.Model.Load</c> needs nothing of this library and gives them back),
/// as ML.NET's trainers return typed transformers that expose their model parameters.
/// </summary>
public sealed class MultiTaskTransformer : ITransformer
{
    private readonly ITransformer _transformers;

    internal MultiTaskTransformer(ITransformer transformers, TrainedMultiTaskModel model, IReadOnlyList<string> categoricalColumns)
    {
        _transformers = transformers;
        Model = model;
        CategoricalColumns = categoricalColumns;
    }

    /// <summary>The trained model: history, parameters, tables, training state, export.</summary>
    public TrainedMultiTaskModel Model { get; }

    /// <summary>The key columns it reads, in the order of the exported network's id inputs.</summary>
    public IReadOnlyList<string> CategoricalColumns { get; }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => _transformers.IsRowToRowMapper;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _transformers.GetOutputSchema(inputSchema);

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => _transformers.GetRowToRowMapper(inputSchema);

    /// <inheritdoc/>
    public IDataView Transform(IDataView input) => _transformers.Transform(input);

    /// <inheritdoc/>
    void ICanSaveModel.Save(ModelSaveContext ctx) => _transformers.Save(ctx);
}
