namespace Embargo.Ledger;
internal static class AssemblyMarker;
