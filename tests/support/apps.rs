//! Apps directories for a test: sample or fixture plugins with the descriptors a test wants.

use std::path::{Path, PathBuf};

use crate::{TempDir, plugin_library, workspace_root};

/// A temporary apps directory.
#[derive(Debug)]
pub struct Apps {
    root: TempDir,
}

impl Apps {
    /// An empty apps directory.
    pub fn new(label: &str) -> Apps {
        let root = TempDir::new(label);
        std::fs::create_dir_all(root.path().join("apps")).expect("apps dir can be created");
        Apps { root }
    }

    /// The apps directory.
    pub fn dir(&self) -> PathBuf {
        self.root.path().join("apps")
    }

    /// The directory the server runs in (holds `apps/`).
    pub fn home(&self) -> &Path {
        self.root.path()
    }

    /// Deploys the sample `name` from the workspace's `apps/` (its descriptor and plugin).
    pub fn sample(&self, name: &str) -> &Apps {
        let descriptor = workspace_root()
            .join("apps")
            .join(name)
            .join("jeus-web-dd.xml");
        let descriptor = std::fs::read_to_string(descriptor).expect("sample descriptor");
        self.context(name, name, &descriptor)
    }

    /// Deploys context directory `dir_name` with plugin library `plugin` and `descriptor`.
    pub fn context(&self, dir_name: &str, plugin: &str, descriptor: &str) -> &Apps {
        let dir = self.dir().join(dir_name);
        std::fs::create_dir_all(&dir).expect("context dir can be created");
        let library = plugin_library(plugin);
        let file_name = library.file_name().expect("library file name");
        std::fs::copy(&library, dir.join(file_name)).expect("plugin can be staged");
        std::fs::write(dir.join("jeus-web-dd.xml"), descriptor).expect("descriptor can be written");
        self
    }
}

impl Apps {
    /// Writes `conf/server.xml` in the server home with `inner` as the content of
    /// `<berth-server>` (admin disabled unless `inner` says otherwise) and returns its path.
    pub fn server_conf(&self, inner: &str) -> PathBuf {
        let admin = if inner.contains("<admin>") {
            ""
        } else {
            "<admin><enabled>false</enabled></admin>"
        };
        let path = self.home().join("conf").join("server.xml");
        std::fs::create_dir_all(self.home().join("conf")).expect("conf dir can be created");
        let xml =
            format!("<berth-server xmlns=\"urn:berth:server:1\">{admin}{inner}</berth-server>\n");
        std::fs::write(&path, xml).expect("server.xml can be written");
        path
    }
}

/// A descriptor whose `<websocket>` section holds `inner`.
pub fn descriptor(inner: &str) -> String {
    format!(
        "<jeus-web-dd xmlns=\"http://www.tmaxsoft.com/xml/ns/jeus\" version=\"8.0\">\n<websocket>\n{inner}\n</websocket>\n</jeus-web-dd>\n"
    )
}
