return Recommender.Pipeline.Cli.CliApp.Run(args);
