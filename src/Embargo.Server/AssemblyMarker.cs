namespace Embargo.Server;
internal static class AssemblyMarker;
