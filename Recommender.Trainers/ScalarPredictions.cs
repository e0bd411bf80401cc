using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Recommender.Trainers;

/// <summary>
/// ML.NET's <c>ApplyOnnxModel</c> turns every ONNX output into a vector (a <c>[N, 1]</c> prediction becomes
/// <c>Vector&lt;Single, 1&gt;</c>), which a <c>float</c> property of a prediction class cannot bind to. These custom mappings
/// make the predictions scalar <c>Single</c> columns under their own names, so <c>CreatePredictionEngine&lt;TIn, TOut&gt;</c>
/// works as in ML.NET's tutorials. They save by contract name: before <c>mlContext.Model.Load</c>, register them with
/// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(ScalarPredictions).Assembly)</c> (the product's own loaders do).
/// </summary>
public static class ScalarPredictions
{
    private const string Suffix = ".vector";

    /// <summary>Appends the mapping of the multi-task predictions (PCtr, PCvr, PCtcvr, PredictedRating) to scalars.</summary>
    public static IEstimator<ITransformer> AppendMultiTask(IEstimator<ITransformer> chain, MLContext ml) =>
        Append(chain, ml, MultiTaskScalarsFactory.Columns, new MultiTaskScalarsFactory().GetMapping(), MultiTaskScalarsFactory.Contract);

    /// <summary>Appends the mapping of a matrix factorization's Score to a scalar.</summary>
    public static IEstimator<ITransformer> AppendScore(IEstimator<ITransformer> chain, MLContext ml) =>
        Append(chain, ml, ScoreScalarFactory.Columns, new ScoreScalarFactory().GetMapping(), ScoreScalarFactory.Contract);

    // Each vector moves to a hidden name, the mapping writes the scalar under the original one, the vectors go.
    private static IEstimator<ITransformer> Append<TIn, TOut>(IEstimator<ITransformer> chain, MLContext ml, string[] columns, Action<TIn, TOut> map, string contract)
        where TIn : class, new() where TOut : class, new()
    {
        foreach (var c in columns) chain = chain.Append(ml.Transforms.CopyColumns(c + Suffix, c));
        return chain.Append(ml.Transforms.DropColumns(columns))
            .Append(ml.Transforms.CustomMapping(map, contract))
            .Append(ml.Transforms.DropColumns(columns.Select(c => c + Suffix).ToArray()));
    }

    /// <summary>The multi-task predictions as the ONNX transformer gives them.</summary>
    public sealed class MultiTaskVectors
    {
        /// <summary>PCtr.</summary>
        [ColumnName("PCtr" + Suffix), VectorType(1)] public float[] PCtr { get; set; } = [];
        /// <summary>PCvr.</summary>
        [ColumnName("PCvr" + Suffix), VectorType(1)] public float[] PCvr { get; set; } = [];
        /// <summary>PCtcvr.</summary>
        [ColumnName("PCtcvr" + Suffix), VectorType(1)] public float[] PCtcvr { get; set; } = [];
        /// <summary>PredictedRating.</summary>
        [ColumnName("PredictedRating" + Suffix), VectorType(1)] public float[] PredictedRating { get; set; } = [];
    }

    /// <summary>The multi-task predictions as scalars.</summary>
    public sealed class MultiTaskScalars
    {
        /// <summary>Probability of a click.</summary>
        public float PCtr { get; set; }
        /// <summary>Probability of a conversion given a click.</summary>
        public float PCvr { get; set; }
        /// <summary>Probability of click and conversion.</summary>
        public float PCtcvr { get; set; }
        /// <summary>Predicted rating.</summary>
        public float PredictedRating { get; set; }
    }

    /// <summary>A matrix factorization's score as the ONNX transformer gives it.</summary>
    public sealed class ScoreVector
    {
        /// <summary>Score.</summary>
        [ColumnName("Score" + Suffix), VectorType(1)] public float[] Score { get; set; } = [];
    }

    /// <summary>A matrix factorization's score as a scalar.</summary>
    public sealed class ScoreScalar
    {
        /// <summary>Score.</summary>
        public float Score { get; set; }
    }

    /// <summary>The saved mapping of the multi-task predictions.</summary>
    [CustomMappingFactoryAttribute(Contract)]
    public sealed class MultiTaskScalarsFactory : CustomMappingFactory<MultiTaskVectors, MultiTaskScalars>
    {
        /// <summary>The contract name saved with the model.</summary>
        public const string Contract = "Recommender.MultiTaskScalars";
        internal static readonly string[] Columns = ["PCtr", "PCvr", "PCtcvr", "PredictedRating"];

        /// <inheritdoc/>
        public override Action<MultiTaskVectors, MultiTaskScalars> GetMapping() => (v, s) =>
        {
            s.PCtr = v.PCtr[0];
            s.PCvr = v.PCvr[0];
            s.PCtcvr = v.PCtcvr[0];
            s.PredictedRating = v.PredictedRating[0];
        };
    }

    /// <summary>The saved mapping of the matrix factorization's score.</summary>
    [CustomMappingFactoryAttribute(Contract)]
    public sealed class ScoreScalarFactory : CustomMappingFactory<ScoreVector, ScoreScalar>
    {
        /// <summary>The contract name saved with the model.</summary>
        public const string Contract = "Recommender.ScoreScalar";
        internal static readonly string[] Columns = ["Score"];

        /// <inheritdoc/>
        public override Action<ScoreVector, ScoreScalar> GetMapping() => (v, s) => s.Score = v.Score[0];
    }

    /// <summary>Registers the mappings with <paramref name="ml"/>, so it can load models that hold them.</summary>
    public static MLContext Register(MLContext ml)
    {
        ml.ComponentCatalog.RegisterAssembly(typeof(ScalarPredictions).Assembly);
        return ml;
    }
}
