using System.Globalization;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Cli;

/// <summary>Prints one row per epoch as training goes, with a progress bar inside each epoch: the validation AUCs and RMSEs of every task.</summary>
internal sealed class EpochTable
{
    private string[] _metrics = [];
    private ProgressBar? _bar;
    private int _epoch = -1;
    private bool _header;

    public void Attach(MultiTaskTrainerOptions options, string label)
    {
        options.Progress = (epoch, step, steps, loss) =>
        {
            if (epoch != _epoch) { _bar?.Dispose(); _bar = new ProgressBar($"{label} epoch {epoch + 1}", "steps"); _epoch = epoch; }
            _bar!.Report(step, steps);
        };
        options.EpochCompleted = report =>
        {
            _bar?.Dispose();
            _bar = null;
            if (!_header)
            {
                _metrics = report.Validation.Keys.Where(m => m.EndsWith(".auc") || m.EndsWith(".entire_auc") || m.EndsWith(".rmse")).ToArray();
                Console.WriteLine($"{"model",-14} {"epoch",5} {"train_loss",10} " + string.Join(" ", _metrics.Select(m => m.PadLeft(11))) + $" {"seconds",8} {"rows/s",9}");
                _header = true;
            }
            string Cell(string m) => (report.Validation.TryGetValue(m, out var v) && !double.IsNaN(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "-").PadLeft(Math.Max(11, m.Length));
            Console.WriteLine($"{label,-14} {report.Epoch,5} {report.TrainLoss,10:F5} " + string.Join(" ", _metrics.Select(Cell))
                + $" {report.Seconds,8:F1} {report.SamplesPerSecond,9:N0}{(report.Best ? "  best" : "")}");
        };
    }
}
