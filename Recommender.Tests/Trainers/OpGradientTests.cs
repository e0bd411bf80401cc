using Recommender.Trainers.Compilation;
using Recommender.Trainers.Graph;
using Recommender.Trainers.Runtime;
using static Recommender.Tests.Trainers.GradientCheck;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class OpGradientTests
{
    private static readonly Random Rng = new(42);

    private static Input R(params long[] shape) => GradientCheck.Random(Rng, shape);
    private static Input Positive(params long[] shape) => GradientCheck.Random(Rng, shape, 0.5, 2);
    private static Input Batch(long[] shape, long[] concrete) => GradientCheck.Random(Rng, shape, -1, 1, concrete);
    // Values kept away from 0 so kinks (relu, abs) and ties are not straddled by the finite difference.
    private static Input AwayFromZero(params long[] shape)
    {
        var x = R(shape);
        return x with { Values = x.Values.Select(v => v >= 0 ? v + 0.1 : v - 0.1).ToArray() };
    }

    [ClassCleanup]
    public static void Report() => Console.WriteLine($"largest relative gradient error over all checks: {LargestRelativeError:E2}");

    [TestMethod] public void Add() => Check((g, x) => g.Add(x[0], x[1]), R(3, 4), R(4));
    [TestMethod] public void AddDynamicBatch() => Check((g, x) => g.Add(x[0], x[1]), Batch([-1, 4], [5, 4]), R(1, 4));
    [TestMethod] public void Sub() => Check((g, x) => g.Sub(x[0], x[1]), R(3, 4), R(3, 1));
    [TestMethod] public void Mul() => Check((g, x) => g.Mul(x[0], x[1]), R(3, 4), R(3, 4));
    [TestMethod] public void MulBroadcastScalar() => Check((g, x) => g.Mul(x[0], x[1]), R(2, 3), R());
    // A one-element operand of lower rank takes its partner's rank (a computed one through a Reshape): the gradient must still reach it.
    [TestMethod] public void MulColumnByComputedScalar() => Check((g, x) => g.Mul(x[0], g.Sum(x[1])), Batch([-1, 1], [5, 1]), R(3));
    [TestMethod] public void SubScalarMinusColumn() => Check((g, x) => g.Sub(g.Mean(x[1]), g.Mul(x[0], g.Scalar(2))), Batch([-1, 1], [4, 1]), R(2));
    [TestMethod] public void Div() => Check((g, x) => g.Div(x[0], x[1]), R(3, 4), Positive(4));
    [TestMethod] public void Neg() => Check((g, x) => g.Neg(x[0]), R(5));
    [TestMethod] public void Max() => Check((g, x) => g.Max(x[0], x[1]), R(6), R(6));
    [TestMethod] public void Min() => Check((g, x) => g.Min(x[0], x[1]), R(6), R(1));
    [TestMethod] public void Pow() => Check((g, x) => g.Pow(x[0], g.Scalar(3)), Positive(4));
    [TestMethod] public void Identity() => Check((g, x) => g.Identity(x[0]), R(2, 2));

    [TestMethod] public void Relu() => Check((g, x) => g.Relu(x[0]), AwayFromZero(4, 5));

    [TestMethod]
    public void PositiveMaskIsExactlyOneAboveZeroAndZeroAtOrBelow()
    {
        // ReLU's gradient mask as one HardSigmoid kernel: exact for every normal float, the smallest included, for huge
        // values (alpha x overflows to infinity, clamped to 1) and at zero; run by ONNX Runtime, float and double.
        float[] x = [-3f, -1e-30f, 0f, -0f, 1.1754944e-38f, 3e-39f, 1e-30f, 0.5f, 7f, 3e38f, float.PositiveInfinity];
        float[] expected = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1];
        foreach (var type in new[] { DataType.Float, DataType.Double })
        {
            var g = new GraphBuilder(type);
            g.Output(g.PositiveMask(g.Input("x", x.Length)), "mask");
            using var runner = new GraphRunner(g.ToBytes());
            var feed = new Dictionary<string, (Array, long[])> { ["x"] = (type == DataType.Float ? x : x.Select(v => (double)v).ToArray(), [x.Length]) };
            var mask = runner.Run(feed)["mask"].Data;
            var actual = mask is float[] f ? f.Select(v => (double)v).ToArray() : (double[])mask;
            CollectionAssert.AreEqual(expected.Select(v => (double)v).ToArray(), actual, type.ToString());
        }
    }
    [TestMethod] public void Sigmoid() => Check((g, x) => g.Sigmoid(x[0]), R(4, 5));
    [TestMethod] public void Tanh() => Check((g, x) => g.Tanh(x[0]), R(4, 5));
    [TestMethod] public void Exp() => Check((g, x) => g.Exp(x[0]), R(7));
    [TestMethod] public void Log() => Check((g, x) => g.Log(x[0]), Positive(7));
    [TestMethod] public void Abs() => Check((g, x) => g.Abs(x[0]), AwayFromZero(7));
    [TestMethod] public void Sqrt() => Check((g, x) => g.Sqrt(x[0]), Positive(7));
    [TestMethod] public void Softmax() => Check((g, x) => g.Softmax(x[0]), R(3, 5));
    [TestMethod] public void SoftmaxDynamicBatch() => Check((g, x) => g.Softmax(x[0], -1), Batch([-1, 4], [3, 4]));

    // Distinct slices along the middle axis, some positions not taken (their gradient is exactly 0), the result weighted.
    [TestMethod] public void GatherDistinct() => Check((g, x) => g.Mul(g.GatherDistinct(x[0], 1, [3, 0, 4]), x[1]), Batch([-1, 5, 2], [2, 5, 2]), R(2, 3, 2));
    [TestMethod] public void MatMul() => Check((g, x) => g.MatMul(x[0], x[1]), R(3, 4), R(4, 2));
    [TestMethod] public void BatchMatMul() => Check((g, x) => g.BatchMatMul(x[0], x[1]), Batch([-1, 3, 4], [2, 3, 4]), R(2, 4, 5));
    // A Gram matrix through the general product and a transpose, and as its own op.
    [TestMethod] public void BatchGramMatrix() => Check((g, x) => g.BatchMatMul(x[0], g.Transpose(x[0], 0, 2, 1)), Batch([-1, 3, 2], [2, 3, 2]));
    [TestMethod] public void Gram() => Check((g, x) => g.Mul(g.Gram(x[0]), x[1]), Batch([-1, 3, 2], [2, 3, 2]), R(2, 3, 3));
    [TestMethod] public void Gemm() => Check((g, x) => g.Gemm(x[0], x[1], x[2]), Batch([-1, 4], [3, 4]), R(4, 2), R(2));
    // A bias of 128 or more sums its gradient as a matrix-vector product with a column of ones built from the batch.
    [TestMethod] public void GemmWideBias() => Check((g, x) => g.Gemm(x[0], x[1], x[2]), Batch([-1, 3], [5, 3]), R(3, 130), R(130));
    // x feeds three products: its gradient's terms accumulate into the later products' C (GraphBuilder.Accumulate).
    [TestMethod] public void InputOfThreeProductsAccumulatesThroughC() => Check((g, x) =>
        g.Mul(g.Add(g.Gemm(x[0], x[1], null), g.Gemm(x[0], x[2], x[3])), g.Gemm(x[0], x[4], null, transB: true)),
        Batch([-1, 3], [4, 3]), R(3, 2), R(3, 2), R(2), R(2, 3));
    [TestMethod] public void GemmTransA() => Check((g, x) => g.Gemm(x[0], x[1], null, transA: true), R(4, 3), R(4, 2));
    [TestMethod] public void GemmTransB() => Check((g, x) => g.Gemm(x[0], x[1], x[2], transB: true), R(3, 4), R(2, 4), R(3, 2));
    [TestMethod] public void GemmTransBoth() => Check((g, x) => g.Gemm(x[0], x[1], null, transA: true, transB: true), R(4, 3), R(2, 4));

    [TestMethod] public void Concat() => Check((g, x) => g.Concat(1, x[0], x[1], x[2]), R(2, 3), R(2, 1), R(2, 4));
    [TestMethod] public void Split() => Check((g, x) => { var p = g.Split(x[0], 1, [2, 3]); return g.Mul(p[0], g.Slice(p[1], 1, 0, 2)); }, R(3, 5));
    [TestMethod] public void SplitWithUnusedPart() => Check((g, x) => g.Split(x[0], 0, [1, 2])[1], R(3, 2));
    [TestMethod] public void Slice() => Check((g, x) => g.Slice(x[0], 1, 1, 3), Batch([-1, 4], [2, 4]));
    [TestMethod] public void Pad() => Check((g, x) => g.Pad(x[0], 1, 2, 1), R(2, 3));
    [TestMethod] public void Reshape() => Check((g, x) => g.Reshape(x[0], -1, 6), Batch([-1, 3], [4, 3]));
    [TestMethod] public void Transpose() => Check((g, x) => g.Transpose(x[0], 1, 2, 0), R(2, 3, 4));
    [TestMethod] public void UnsqueezeSqueeze() => Check((g, x) => g.Squeeze(g.Mul(g.Unsqueeze(x[0], 1), x[1]), 1), R(3, 4), R(1, 1, 4));
    [TestMethod] public void Expand() => Check((g, x) => g.Expand(x[0], g.Shape(x[1]), x[1].Shape), R(1, 4), R(3, 4));

    [TestMethod] public void ReduceSum() => Check((g, x) => g.ReduceSum(x[0], [1]), R(3, 4));
    [TestMethod] public void ReduceSumKeepDims() => Check((g, x) => g.ReduceSum(x[0], [0, 2], keepDims: true), R(2, 3, 2));
    [TestMethod] public void ReduceMeanOverDynamicBatch() => Check((g, x) => g.ReduceMean(x[0], [0]), Batch([-1, 3], [5, 3]));
    [TestMethod] public void SumAndMean() => Check((g, x) => g.Add(g.Mul(g.Sum(x[0]), g.Mean(x[0])), g.Mean(x[1])), R(3, 2), R(4));
    [TestMethod] public void Cast() => Check((g, x) => g.Cast(g.Mul(x[0], x[0]), DataType.Double), R(4));

    [TestMethod] public void Where() => Check((g, x) => g.Where(g.Greater(x[0], g.Scalar(0)), g.Mul(x[0], x[1]), x[1]), AwayFromZero(6), R(6));
    [TestMethod] public void WhereColumnAgainstComputedScalar() =>
        Check((g, x) => g.Where(g.Greater(x[0], g.Scalar(0)), g.Sum(x[1]), g.Mul(x[0], x[0])), AwayFromZero(5, 1), R(2));

    [TestMethod]
    public void GatherSumsDuplicateRows() => Check((g, x) => g.Gather(x[0], x[1]),
        R(5, 3), new Input([4], [1, 3, 1, 0], Differentiable: false, Type: DataType.Int64));

    [TestMethod]
    public void ScatterNDAdd() => Check((g, x) => g.ScatterNDAdd(x[0], g.Unsqueeze(x[2], -1), x[1]),
        R(4, 2), R(3, 2), new Input([3], [2, 0, 2], Differentiable: false, Type: DataType.Int64));

    [TestMethod]
    public void BceWithLogitsIncludingLargeLogits()
    {
        var logits = R(8);
        logits = logits with { Values = logits.Values.Select((v, i) => i < 2 ? v * 30 : i == 2 ? 0 : v * 4).ToArray() }; // huge and exactly-zero logits
        var labels = new Input([8], [1, 0, 1, 1, 0, 0, 1, 0], Differentiable: false);
        Check((g, x) => Losses.BceWithLogits(x[0], x[1]), logits, labels);
    }

    [TestMethod]
    public void SoftplusAtZeroAndFarOut() => Check((g, x) => Losses.Softplus(x[0]), new Input([5], [0, 1e-3, -40, 40, 3]));

    [TestMethod]
    public void MaskedBceAndMse()
    {
        var mask = new Input([6], [1, 0, 1, 1, 0, 1], Differentiable: false);
        var labels = new Input([6], [1, 0, 0, 1, 1, 0], Differentiable: false);
        Check((g, x) => Losses.MaskedBce(x[0], x[1], x[2]), R(6), labels, mask);
        Check((g, x) => Losses.MaskedMse(x[0], x[1], x[2]), R(6), R(6) with { Differentiable = false }, mask);
        Check((g, x) => Losses.WeightedSum([(Losses.MaskedBce(x[0], x[1], x[2]), 0.7), (Losses.MaskedMse(x[0], x[1], x[2]), 0.3)]), R(6), labels, mask);
    }

    [TestMethod]
    public void MlpChain() => Check((g, x) =>
    {
        var h = g.Relu(g.Gemm(x[0], x[1], x[2]));
        var logits = g.Gemm(h, x[3], null);
        return g.Sigmoid(logits);
    }, Batch([-1, 4], [5, 4]), R(4, 6), R(6), R(6, 2));
}
