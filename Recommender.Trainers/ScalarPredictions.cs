using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Recommender.Trainers;

/// <summary>
/// ML.NET's <c>ApplyOnnxModel</c> turns every ONNX output into a vector (an <c>[N]</c> or <c>[N, 1]</c> prediction becomes
/// <c>Vector&lt;Single, 1&gt;</c>), which a <c>float</c> property of a prediction class cannot bind to. These custom mappings
/// make each prediction a scalar <c>Single</c> column under its own name (one saved mapping, whatever the tasks), so <c>CreatePredictionEngine&lt;TIn, TOut&gt;</c>
/// works as in ML.NET's tutorials. They save by contract name: before <c>mlContext.Model.Load</c>, register them with
/// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(ScalarPredictions).Assembly)</c> (the product's own loaders do).
/// </summary>
public static class ScalarPredictions
{
    // Fixed column names of the one saved mapping; each prediction passes through them in turn.
    private const string VectorColumn = "__prediction_vector", ScalarColumn = "__prediction_scalar";

    /// <summary>Appends the mapping of each of <paramref name="columns"/> (one-element vectors) to a <c>Single</c> column of the same name.</summary>
    public static IEstimator<ITransformer> Append(IEstimator<ITransformer> chain, MLContext ml, IEnumerable<string> columns)
    {
        // The vector moves to the mapping's input name, the mapping writes the scalar, which takes the original name.
        foreach (var c in columns)
        {
            chain = chain.Append(ml.Transforms.CopyColumns(VectorColumn, c))
                .Append(ml.Transforms.DropColumns(c))
                .Append(ml.Transforms.CustomMapping(new VectorToScalarFactory().GetMapping(), VectorToScalarFactory.Contract))
                .Append(ml.Transforms.CopyColumns(c, ScalarColumn))
                .Append(ml.Transforms.DropColumns(VectorColumn, ScalarColumn));
        }
        return chain;
    }

    /// <summary>A prediction as the ONNX transformer gives it: a vector (of one element).</summary>
    public sealed class PredictionVector
    {
        /// <summary>The vector.</summary>
        [ColumnName(VectorColumn), VectorType] public float[] Vector { get; set; } = [];
    }

    /// <summary>The prediction as a scalar.</summary>
    public sealed class PredictionScalar
    {
        /// <summary>Its first element.</summary>
        [ColumnName(ScalarColumn)] public float Scalar { get; set; }
    }

    /// <summary>The saved mapping of a one-element vector to its element.</summary>
    [CustomMappingFactoryAttribute(Contract)]
    public sealed class VectorToScalarFactory : CustomMappingFactory<PredictionVector, PredictionScalar>
    {
        /// <summary>The contract name saved with the model.</summary>
        public const string Contract = "Recommender.VectorToScalar";

        /// <inheritdoc/>
        public override Action<PredictionVector, PredictionScalar> GetMapping() => (v, s) => s.Scalar = v.Vector.Length > 0 ? v.Vector[0] : float.NaN;
    }

    /// <summary>Registers the mapping with <paramref name="ml"/>, so it can load models that hold it.</summary>
    public static MLContext Register(MLContext ml)
    {
        ml.ComponentCatalog.RegisterAssembly(typeof(ScalarPredictions).Assembly);
        return ml;
    }
}
