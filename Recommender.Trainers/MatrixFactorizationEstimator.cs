using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Trainers.Graph;
using Recommender.Trainers.MatrixFactorization;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Trainers;

/// <summary>Entry point shaped like ML.NET's: <c>mlContext.Recommendation().Trainers.MatrixFactorization(options)</c>.</summary>
public static class RecommendationCatalogExtensions
{
    /// <summary>The recommendation catalog of this context.</summary>
    public static RecommendationCatalog Recommendation(this MLContext mlContext) => new(mlContext);
}

/// <summary>Recommendation components.</summary>
public sealed class RecommendationCatalog(MLContext mlContext)
{
    /// <summary>The trainers.</summary>
    public RecommendationTrainers Trainers { get; } = new(mlContext);
}

/// <summary>Recommendation trainers.</summary>
public sealed class RecommendationTrainers(MLContext mlContext)
{
    /// <summary>Matrix factorization with ML.NET's options (see <see cref="MatrixFactorizationOptions"/>).</summary>
    public MatrixFactorizationEstimator MatrixFactorization(MatrixFactorizationOptions options) => new(mlContext, options);

    /// <summary>Matrix factorization with ML.NET's simple signature.</summary>
    public MatrixFactorizationEstimator MatrixFactorization(string labelColumnName, string matrixColumnIndexColumnName, string matrixRowIndexColumnName,
        int approximationRank = MatrixFactorizationOptions.Defaults.ApproximationRank, double learningRate = MatrixFactorizationOptions.Defaults.LearningRate,
        int numberOfIterations = MatrixFactorizationOptions.Defaults.NumberOfIterations) => new(mlContext, new MatrixFactorizationOptions
        {
            LabelColumnName = labelColumnName, MatrixColumnIndexColumnName = matrixColumnIndexColumnName, MatrixRowIndexColumnName = matrixRowIndexColumnName,
            ApproximationRank = approximationRank, LearningRate = learningRate, NumberOfIterations = numberOfIterations,
        });
}

/// <summary>
/// Matrix factorization as an ML.NET estimator: key-typed row (user) and column (item) index columns and a
/// label in; the fitted model adds <c>Score</c> (p_user . q_item; NaN for key 0 or a user or item unseen in
/// training, as ML.NET's does) and, with <see cref="OutputFactors"/>, <c>UserFactors</c> and <c>ItemFactors</c>
/// (zeros when unseen) for use as features. Like the multi-task model, the fitted transformer is ML.NET's
/// own <c>ApplyOnnxModel</c> over a graph holding the factors, so it saves and loads with the pipeline;
/// the columns are one-element (Score) or rank-wide float vectors.
/// </summary>
public sealed class MatrixFactorizationEstimator : IEstimator<ITransformer>
{
    private const string RowInput = "__mf_row", ColumnInput = "__mf_column";
    private readonly MLContext _ml;

    /// <summary>Creates the estimator (the catalog is the usual way in).</summary>
    public MatrixFactorizationEstimator(MLContext mlContext, MatrixFactorizationOptions options)
    {
        _ml = mlContext;
        Options = options;
    }

    /// <summary>The options.</summary>
    public MatrixFactorizationOptions Options { get; }

    /// <summary>Also output the factor vectors as <c>UserFactors</c> and <c>ItemFactors</c>.</summary>
    public bool OutputFactors { get; init; }

    /// <summary>The factors of the last fit (<c>LeftFactorMatrix</c>, <c>RightFactorMatrix</c>).</summary>
    public MatrixFactorizationModelParameters? Model { get; private set; }

    /// <summary>Rows of the last fit skipped for a missing key (0) or a NaN label, counted rather than dropped silently.</summary>
    public long SkippedRows { get; private set; }

    /// <summary>Trains.</summary>
    public ITransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>Trains, reporting the validation RMSE after every iteration through <see cref="MatrixFactorizationOptions.IterationCompleted"/>.</summary>
    public ITransformer Fit(IDataView train, IDataView? validation)
    {
        var (data, skipped) = Read(train);
        SkippedRows = skipped;
        var valid = validation is null ? default : Read(validation);
        var options = Options;
        if (!Options.Quiet && Options.IterationCompleted is null)
        {
            // A copy, so the caller's options are not changed by fitting (a later Quiet = true stays quiet).
            options = Options.Clone();
            options.IterationCompleted = (i, t, v) => Console.Error.WriteLine($"iteration {i,3}: train RMSE {t:F4}" + (double.IsNaN(v) ? "" : $", validation RMSE {v:F4}"));
        }
        Model = MatrixFactorizationTrainer.Train(data, options, valid.Data);
        return Chain(Graph(Model)).Fit(train);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var columns = inputSchema.ToDictionary(c => c.Name);
        foreach (var name in new[] { Options.MatrixRowIndexColumnName, Options.MatrixColumnIndexColumnName })
            if (!columns.TryGetValue(name, out var c) || !c.IsKey) throw new ArgumentException($"matrix index column '{name}' is missing or not key-typed: map it with MapValueToKey first");
        var standIn = new MatrixFactorizationModelParameters(1, 1, Options.ApproximationRank, new float[Options.ApproximationRank], new float[Options.ApproximationRank]);
        return Chain(Graph(standIn)).GetOutputSchema(inputSchema);
    }

    private (RatingMatrix Data, long Skipped) Read(IDataView view)
    {
        var s = view.Schema;
        var row = s.GetColumnOrNull(Options.MatrixRowIndexColumnName) ?? throw new ArgumentException($"row index column '{Options.MatrixRowIndexColumnName}' is not in the data");
        var column = s.GetColumnOrNull(Options.MatrixColumnIndexColumnName) ?? throw new ArgumentException($"column index column '{Options.MatrixColumnIndexColumnName}' is not in the data");
        var label = s.GetColumnOrNull(Options.LabelColumnName) ?? throw new ArgumentException($"label column '{Options.LabelColumnName}' is not in the data");
        if (row.Type is not KeyDataViewType rowKey || column.Type is not KeyDataViewType columnKey)
            throw new ArgumentException("the matrix row and column index columns must be key-typed (MapValueToKey)");
        if (label.Type != NumberDataViewType.Single) throw new ArgumentException($"label column '{label.Name}' must be Single, got {label.Type}");
        var rows = new List<int>(); var cols = new List<int>(); var values = new List<float>();
        long skipped = 0;
        using var cursor = view.GetRowCursor([row, column, label]);
        var rg = cursor.GetGetter<uint>(row);
        var cg = cursor.GetGetter<uint>(column);
        var lg = cursor.GetGetter<float>(label);
        uint r = 0, c = 0;
        float y = 0;
        while (cursor.MoveNext())
        {
            rg(ref r); cg(ref c); lg(ref y);
            if (r == 0 || c == 0 || float.IsNaN(y)) { skipped++; continue; }
            rows.Add((int)r - 1); cols.Add((int)c - 1); values.Add(y);
        }
        return (new RatingMatrix(checked((int)rowKey.Count), checked((int)columnKey.Count), rows.ToArray(), cols.ToArray(), values.ToArray()), skipped);
    }

    private byte[] Graph(MatrixFactorizationModelParameters model) => Export(model, RowInput, ColumnInput, DataType.Uint32, OutputFactors);

    /// <summary>
    /// The factors as an ONNX graph: inputs <paramref name="rowInput"/> and <paramref name="columnInput"/>, ids
    /// <c>[N, 1]</c> of <paramref name="idType"/> (key values: 0 = unknown, row r of the factors at r + 1); output
    /// <c>Score [N]</c> (NaN for an unknown user or item), and with <paramref name="factors"/> also <c>UserFactors</c> and
    /// <c>ItemFactors</c> (zeros when unknown).
    /// </summary>
    public static byte[] Export(MatrixFactorizationModelParameters model, string rowInput, string columnInput, DataType idType, bool factors = false)
    {
        int k = model.ApproximationRank;
        // Tables get a row 0 for key 0: NaN in the score tables (unknown scores NaN), zeros in the feature tables.
        float[] WithRow0(float[] values, float fill)
        {
            var t = new float[values.Length + k];
            Array.Fill(t, fill, 0, k);
            values.CopyTo(t, k);
            return t;
        }
        var g = new GraphBuilder();
        Value Ids(string name) { var ids = g.Input(name, [-1, 1], idType); return g.Squeeze(idType == DataType.Int64 ? ids : g.Cast(ids, DataType.Int64), 1); }
        var rowIds = Ids(rowInput);
        var colIds = Ids(columnInput);
        var p = g.Gather(g.Initializer("user_factors_nan", [model.NumberOfRows + 1, k], WithRow0(model.LeftFactorMatrix, float.NaN)), rowIds);
        var q = g.Gather(g.Initializer("item_factors_nan", [model.NumberOfColumns + 1, k], WithRow0(model.RightFactorMatrix, float.NaN)), colIds);
        g.Output(g.ReduceSum(g.Mul(p, q), [1], keepDims: false), "Score");
        if (factors)
        {
            g.Output(g.Gather(g.Initializer("user_factors", [model.NumberOfRows + 1, k], WithRow0(model.LeftFactorMatrix, 0)), rowIds), "UserFactors");
            g.Output(g.Gather(g.Initializer("item_factors", [model.NumberOfColumns + 1, k], WithRow0(model.RightFactorMatrix, 0)), colIds), "ItemFactors");
        }
        return g.ToBytes("matrix_factorization");
    }

    private IEstimator<ITransformer> Chain(byte[] onnx)
    {
        string[] outputs = OutputFactors ? ["Score", "UserFactors", "ItemFactors"] : ["Score"];
        var chain = _ml.Transforms.Conversion.ConvertType(RowInput, Options.MatrixRowIndexColumnName, DataKind.UInt32)
            .Append(_ml.Transforms.Conversion.ConvertType(ColumnInput, Options.MatrixColumnIndexColumnName, DataKind.UInt32))
            .Append(_ml.Transforms.ApplyOnnxModel(outputs, [RowInput, ColumnInput], new MemoryStream(onnx), gpuDeviceId: null, fallbackToCpu: false))
            .Append(_ml.Transforms.DropColumns(RowInput, ColumnInput));
        return ScalarPredictions.Append(chain, _ml, ["Score"]);
    }
}
