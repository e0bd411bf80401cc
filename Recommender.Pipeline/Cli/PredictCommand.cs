using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Scoring;

namespace Recommender.Pipeline.Cli;

/// <summary><c>predict</c>: scores a file with a saved bundle through ML.NET (mlContext.Model.Load) and writes the predictions.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Bundle folder written by train", Required = true };
        var data = new Option<FileInfo>("--data") { Description = "Data to score (the bundle's schema is used to read it)", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "Predictions CSV: PCtr,PCvr,PCtcvr,PredictedRating", Required = true };
        var command = new Command("predict", "Score a data file with a saved model bundle (loaded through mlContext.Model.Load) and write the predictions, one row per input row")
        {
            model, data, output,
        };
        command.SetAction(result =>
        {
            var ml = new MLContext();
            var (transformer, metadata) = ModelBundle.Load(ml, result.GetValue(model)!.FullName);
            var schema = metadata.Schema;
            schema.SkipBadRows = false;
            var table = DataLoader.Load(schema, result.GetValue(data)!.FullName);
            var scored = transformer.Transform(table.ToDataView());
            var columns = ScoredColumns.MultiTask.Select(c => ScoredColumns.Read(scored, c)).ToArray();
            AtomicFile.WriteText(result.GetValue(output)!.FullName, w =>
            {
                w.Write(string.Join(',', ScoredColumns.MultiTask) + "\n");
                for (int i = 0; i < columns[0].Length; i++)
                    w.Write(string.Join(',', columns.Select(c => c[i].ToString("R", CultureInfo.InvariantCulture))) + "\n");
            });
            Console.Error.WriteLine($"wrote {columns[0].Length:N0} predictions to {result.GetValue(output)!.FullName}");
            return 0;
        });
        return command;
    }
}
