using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Lifecycle;

namespace Recommender.Pipeline.Cli;

/// <summary><c>predict</c>: scores a file with a saved bundle through ML.NET (mlContext.Model.Load) and writes the predictions.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Bundle folder written by train, or any ML.NET model .zip (then give --schema)", Required = true };
        var data = new Option<FileInfo>("--data") { Description = "Data to score (read with the bundle's schema, or --schema)", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "Predictions CSV, one row per input row", Required = true };
        var schemaFile = new Option<FileInfo?>("--schema") { Description = "Schema of the data (for a plain ML.NET zip)" };
        var columnsOption = new Option<string[]>("--columns") { Description = "Float columns to write (default: the model's predictions, PCtr, PCvr, PCtcvr, PredictedRating for the default chain)", AllowMultipleArgumentsPerToken = true };
        var command = new Command("predict", "Score a data file with a saved model (a bundle or any ML.NET zip, loaded through mlContext.Model.Load) and write the chosen float columns, one row per input row")
        {
            model, data, output, schemaFile, columnsOption,
        };
        command.SetAction(result =>
        {
            var ml = new MLContext();
            string path = Path.GetFullPath(result.GetValue(model)!);
            ITransformer transformer;
            DatasetSchema schema;
            IReadOnlyList<string>? predictions = null;
            if (File.Exists(path) && path.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) && !File.Exists(Path.Combine(Path.GetDirectoryName(path)!, BundleManifest.FileName)))
            {
                transformer = ScalarPredictions.Register(ml).Model.Load(path, out _);
                schema = DatasetSchema.Load((result.GetValue(schemaFile) ?? throw new SchemaException("a plain ML.NET model needs --schema to read the data")).FullName);
            }
            else
            {
                var (t, metadata) = ModelBundle.Load(ml, path);
                transformer = t;
                schema = result.GetValue(schemaFile) is { } sf ? DatasetSchema.Load(sf.FullName) : metadata.Schema;
                predictions = metadata.OnnxOutputs;
            }
            string outPath = result.GetValue(output)!.FullName;
            if (outPath == result.GetValue(data)!.FullName) throw new IOException($"{outPath}: the output is the input; choose another output file");
            if (Directory.Exists(outPath)) throw new IOException($"{outPath}: a folder; --out is the file to write");
            using var outputLock = WriterLock.Acquire(outPath, wait: false);
            var table = DataLoader.Load(schema, result.GetValue(data)!.FullName);
            var input = table.ToDataView();
            var scored = transformer.Transform(input);
            // A plain zip's predictions: the Single columns the model adds.
            var names = result.GetValue(columnsOption) is { Length: > 0 } chosen ? chosen
                : predictions?.ToArray() ?? scored.Schema.Where(c => !c.IsHidden && c.Type == Microsoft.ML.Data.NumberDataViewType.Single && input.Schema.GetColumnOrNull(c.Name) is null).Select(c => c.Name).ToArray();
            if (names.Length == 0) throw new SchemaException("the model adds no Single column; name the columns to write with --columns");
            var columns = names.Select(c => ScoredColumns.Read(scored, c)).ToArray();
            AtomicFile.WriteText(result.GetValue(output)!.FullName, w =>
            {
                w.Write(string.Join(',', names) + "\n");
                for (int i = 0; i < columns[0].Length; i++)
                    w.Write(string.Join(',', columns.Select(c => c[i].ToString("R", CultureInfo.InvariantCulture))) + "\n");
            });
            Console.Error.WriteLine($"wrote {columns[0].Length:N0} predictions to {result.GetValue(output)!.FullName}");
            return 0;
        });
        return command;
    }
}
