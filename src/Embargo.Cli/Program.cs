using System.Globalization;
using Embargo.Cli.Infrastructure;

// ICU is on (the gateway's screens need NFKC); numbers and dates stay culture-invariant as before, whatever LANG says.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;
return await CliApp.RunAsync(args);
