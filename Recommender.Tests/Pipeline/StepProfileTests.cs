using Recommender.Pipeline.Benchmarks;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class StepProfileTests
{
    [TestMethod]
    public void SummarizesKernelsByOpAndRatesEachProductFromItsShapes()
    {
        // Two steps of a hand-written profile: a 1000x500 by 500x200 Gemm (2 * 1000 * 200 * 500 = 2e8 FLOP) in 10 us a step,
        // so 20,000 GFLOP/s; a Relu in 5 us; and a 1x1 product that read 0 us (no rate: JSON has no infinity).
        static string Kernel(string name, string op, int us, string inputs, string output) =>
            $$$"""{"cat":"Node","name":"{{{name}}}_kernel_time","dur":{{{us}}},"args":{"op_name":"{{{op}}}","input_type_shape":[{{{inputs}}}],"output_type_shape":[{{{output}}}]}}""";
        var step = new[]
        {
            Kernel("gemm", "Gemm", 10, """{"float":[1000,500]},{"float":[500,200]}""", """{"float":[1000,200]}"""),
            Kernel("relu", "Relu", 5, """{"float":[1000,200]}""", """{"float":[1000,200]}"""),
            Kernel("tiny", "Gemm", 0, """{"float":[1,1]},{"float":[1,1]}""", """{"float":[1,1]}"""),
            """{"cat":"Session","name":"model_run","dur":99}""",
        };
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "[" + string.Join(",", step.Concat(step)) + "]");
            var summary = StepProfile.Summarize(path, steps: 2, sgemmGflops: 40_000);
            Assert.AreEqual(0.015, (double)summary["kernel_ms_per_step"]!, 1e-9);
            Assert.AreEqual(10.0 / 15, (double)summary["matrix_products_share"]!, 1e-4);
            Assert.AreEqual(20_000, (double)summary["matrix_products_gflops"]!, 1e-9);
            Assert.AreEqual(0.5, (double)summary["matrix_products_over_sgemm"]!, 1e-9);
            var ops = summary["by_op"]!.AsArray();
            Assert.AreEqual("Gemm", (string)ops[0]!["op"]!);
            Assert.AreEqual(2, (int)ops[0]!["kernels_per_step"]!);
            var products = summary["slowest_matrix_products"]!.AsArray();
            Assert.AreEqual(1, products.Count, "the 0 us product has no rate");
            Assert.AreEqual("[1000x500] x [500x200] -> [1000x200]", (string)products[0]!["shapes"]!);
            Assert.AreEqual(20_000, (double)products[0]!["gflops"]!, 1e-9);
            Assert.AreEqual(0.5, (double)products[0]!["over_sgemm"]!, 1e-9);
            StringAssert.Contains(summary.ToJsonString(), "relu");
        }
        finally { File.Delete(path); }
    }
}
