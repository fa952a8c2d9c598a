namespace AuthServer.Config;

internal static class ModuleOptions
{
    /// Options an earlier module loaded and registered (Program.cs adds the cross-cutting modules first),
    /// for a module whose settings depend on another's: read once, so each warning is logged once.
    public static T Registered<T>(this IServiceCollection services) where T : class =>
        services.LastOrDefault(d => d.ServiceType == typeof(T))?.ImplementationInstance as T
        ?? throw new InvalidOperationException($"{typeof(T).Name} is registered by a module added earlier in Program.cs");
}
