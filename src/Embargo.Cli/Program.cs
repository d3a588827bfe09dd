using Embargo.Cli.Infrastructure;

return await CliApp.RunAsync(args);
