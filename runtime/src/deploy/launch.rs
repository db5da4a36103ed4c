//! Turning a scanned context directory into a served context: load its plugin (staged and
//! probed first, see `plugin`), start its pool, create the plugin instance with the context's
//! `init-param`s and the hub as its host context, and route its endpoint templates. A context
//! that fails after its pool started has its pool stopped before the error is returned: the
//! plugin keeps its host context (the hub, and so the pool) for ever.

use std::sync::Arc;

use std::time::Duration;

use crate::context::{Context, LifecycleError, TemplateError};
use crate::deploy::scanner::AppCandidate;
use crate::executor::{Executor, ExecutorError};
use crate::plugin::{self, LoadError, PluginInstance, Prober};
use crate::session::Hub;

/// How long a context's `on_deploy` may take before its deployment fails.
const ON_DEPLOY_BOUND: Duration = Duration::from_secs(30);

/// How long the pool of a context that failed to deploy may take to stop.
const FAILED_POOL_STOP_BOUND: Duration = Duration::from_secs(5);

/// Why a context could not be deployed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeployError {
    /// The plugin library was refused.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Two endpoint templates conflict.
    #[error("{dir}: {source}")]
    Template {
        /// The context directory.
        dir: String,
        /// The conflict.
        #[source]
        source: TemplateError,
    },
    /// The endpoint's `on_deploy` failed or did not return in time.
    #[error("{dir}: on_deploy: {source}")]
    OnDeploy {
        /// The context directory.
        dir: String,
        /// What went wrong.
        #[source]
        source: LifecycleError,
    },
    /// The pool could not start.
    #[error("{dir}: cannot start the context's pool: {source}")]
    Executor {
        /// The context directory.
        dir: String,
        /// Why.
        #[source]
        source: ExecutorError,
    },
}

/// Loads the plugin of `app`, starts its pool and returns the context, ready to serve.
pub(crate) fn launch(app: &AppCandidate, prober: &Prober) -> Result<Arc<Context>, DeployError> {
    let dir = app.dir.display().to_string();
    let name = app
        .dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("context")
        .to_owned();
    let library = plugin::load(&app.library, prober)?;
    let settings = &app.settings;
    let executor = Executor::new(&name, settings.executor, settings.timeout_min_threads).map_err(
        |source| DeployError::Executor {
            dir: dir.clone(),
            source,
        },
    )?;
    let hub = Hub::new(name, settings.clone(), executor);
    let assembled = assemble(app, &library, &hub, dir);
    if assembled.is_err() {
        if let Err(error) = hub.executor().shutdown(FAILED_POOL_STOP_BOUND) {
            tracing::warn!(context = %hub.name(), "stopping the pool of a version that failed: {error}");
        }
    }
    assembled
}

/// Creates the plugin instance on `hub`, routes its endpoints and runs its `on_deploy`.
fn assemble(
    app: &AppCandidate,
    library: &plugin::PluginLibrary,
    hub: &Arc<Hub>,
    dir: String,
) -> Result<Arc<Context>, DeployError> {
    let settings = &app.settings;
    let host_ctx = plugin::host_context(Arc::clone(hub));
    let instance =
        PluginInstance::create(library, plugin::host_api(), host_ctx, &settings.init_params)?;
    let endpoints = instance.endpoints().to_vec();
    hub.attach(Box::new(instance));
    let context =
        Context::new(Arc::clone(hub), app.context_path.clone(), endpoints).map_err(|source| {
            DeployError::Template {
                dir: dir.clone(),
                source,
            }
        })?;
    context
        .deployed(ON_DEPLOY_BOUND)
        .map_err(|source| DeployError::OnDeploy { dir, source })?;
    tracing::info!(
        context = %hub.name(),
        path = %context.path(),
        endpoints = ?library.endpoints.iter().map(|e| e.template.as_str()).collect::<Vec<_>>(),
        pool_min = settings.executor.min_threads,
        pool_max = settings.executor.max_threads,
        plugin = %library.file.display(),
        abi = %library.abi,
        sdk = %library.sdk_version,
        "context deployed"
    );
    Ok(Arc::new(context))
}
