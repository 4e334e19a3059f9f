public import Scheduler

/// The component types and job kinds this build of schedctl knows, as `jobs.yaml` sees them
/// (``JobsRegistry/standard``'s catalog).
public enum StandardCatalog {
    /// The standard catalog; the options of the job kinds come from `registry` (every check of the
    /// standard kinds applies to the kinds of those names).
    public static func catalog(kinds registry: JobKindRegistry) -> ConfigCatalog {
        var catalog = JobsRegistry.standard.catalog
        catalog.jobKinds = registry.optionSpecs
        return catalog
    }
}
