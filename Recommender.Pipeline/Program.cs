using System.CommandLine;
using Recommender.Pipeline.Cli;
using Recommender.Pipeline.Data;

var root = new RootCommand("ML.NET recommender: synthetic data, loaders, featurization, matrix factorization and multi-task CTR/CVR/rating models")
{
    GenerateCommand.Create(),
    InspectCommand.Create(),
    EvaluateCommand.Create(),
};
try
{
    var parse = root.Parse(args);
    return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is DataFormatException or SchemaException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
