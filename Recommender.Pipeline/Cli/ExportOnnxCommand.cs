using System.CommandLine;
using Recommender.Pipeline.Lifecycle;

namespace Recommender.Pipeline.Cli;

/// <summary><c>export-onnx</c>: the bundle's network, embedding tables included, as one standalone ONNX file.</summary>
internal static class ExportOnnxCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Bundle folder written by train", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "ONNX file to write", Required = true };
        var command = new Command("export-onnx", "Write a bundle's network as a standalone ONNX file and print its input contract")
        {
            model, output,
        };
        command.SetAction(result =>
        {
            // Verified first (hashes and the ONNX input contract): a corrupt network is refused, not copied as valid.
            var bundle = ModelBundle.Open(result.GetValue(model)!.FullName);
            var metadata = bundle.Metadata;
            var bytes = bundle.ReadOnnx();
            if (Directory.Exists(result.GetValue(output)!.FullName)) throw new IOException($"{result.GetValue(output)!.FullName}: a folder; --out is the file to write");
            using var outputLock = WriterLock.Acquire(result.GetValue(output)!.FullName, wait: false);
            AtomicFile.Write(result.GetValue(output)!.FullName, s => s.Write(bytes));
            Console.WriteLine($"wrote {result.GetValue(output)!.FullName} ({bytes.Length:N0} bytes, ONNX opset 18, {metadata.Architecture})");
            Console.WriteLine("inputs:");
            foreach (var id in metadata.OnnxIdInputs) Console.WriteLine($"  {id,-24} int64 [N, 1]  key of the featurized column (1..vocabulary; 0, or any key outside it, = unseen value)");
            if (metadata.OnnxDenseInput is { } dense) Console.WriteLine($"  {dense,-24} float [N, {metadata.DenseSize}]  dense features after imputation and normalization");
            Console.WriteLine("outputs: " + string.Join(", ", metadata.OnnxOutputs.Select(o => $"{o} float [N]")));
            Console.WriteLine("the featurization (value -> key, normalization) lives in model.zip; run it with ML.NET, or map values to keys with the same vocabulary");
            return 0;
        });
        return command;
    }
}
