//! The schemas in `conf/`, run through xmllint: every shipped configuration file validates,
//! and files with mistakes that `berth check` rejects are rejected by the schemas too.
//!
//! xmllint comes with libxml2 (`apt-get install libxml2-utils`); CI installs it. Without it
//! these tests fail, never skip, so a schema that stopped compiling cannot pass unseen.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DESCRIPTOR_XSD: &str = "conf/jeus-web-dd.xsd";
const SERVER_XSD: &str = "conf/berth-server.xsd";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `xmllint --noout --schema SCHEMA FILE` (the schema relative to the workspace root).
fn xmllint(schema: &str, file: &Path) -> Output {
    let run = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(workspace_root().join(schema))
        .arg(file)
        .output();
    match run {
        Ok(output) => output,
        Err(error) if error.kind() == ErrorKind::NotFound => panic!(
            "xmllint is not installed, so the schemas cannot be checked: \
             apt-get install libxml2-utils"
        ),
        Err(error) => panic!("cannot run xmllint: {error}"),
    }
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_valid(schema: &str, file: &Path) {
    let output = xmllint(schema, file);
    assert!(
        output.status.success(),
        "{} does not validate against {schema}:\n{}",
        file.display(),
        stderr_of(&output)
    );
}

/// The descriptors shipped with the samples, plus the JEUS manual's example.
fn shipped_descriptors() -> Vec<PathBuf> {
    let root = workspace_root();
    let apps = std::fs::read_dir(root.join("apps")).expect("the apps directory is readable");
    let mut files: Vec<PathBuf> = apps
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("jeus-web-dd.xml"))
        .filter(|file| file.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected the echo, chat and presence descriptors, found {files:?}"
    );
    files.push(root.join("runtime/src/config/descriptor/testdata/jeus-seed-example.xml"));
    files
}

/// A directory of its own under the system temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("berth-config-schema-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the temporary directory is writable");
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let file = self.0.join(name);
        std::fs::write(&file, text).expect("the temporary file is writable");
        file
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One mistake: a name for the file, its text, and what xmllint's complaint must mention.
struct Mistake {
    name: &'static str,
    text: String,
    mentions: &'static str,
}

fn descriptor_with(websocket: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n\
         <jeus-web-dd xmlns=\"http://www.tmaxsoft.com/xml/ns/jeus\" version=\"8.0\">\n\
         <websocket>\n{websocket}\n</websocket>\n</jeus-web-dd>\n"
    )
}

fn server_with(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n\
         <berth-server xmlns=\"urn:berth:server:1\" version=\"1\">\n{inner}\n</berth-server>\n"
    )
}

/// Writes every mistake to a file and asserts xmllint rejects each for the right element.
fn assert_rejected(schema: &str, scratch: &Scratch, mistakes: &[Mistake]) {
    for mistake in mistakes {
        let file = scratch.write(&format!("{}.xml", mistake.name), &mistake.text);
        let output = xmllint(schema, &file);
        let stderr = stderr_of(&output);
        assert!(
            !output.status.success(),
            "{schema} accepts the {} mistake:\n{}",
            mistake.name,
            mistake.text
        );
        assert!(
            !stderr.contains("failed to compile"),
            "{schema} does not compile:\n{stderr}"
        );
        assert!(
            stderr.contains(mistake.mentions),
            "{schema} rejects the {} mistake without naming {}:\n{stderr}",
            mistake.name,
            mistake.mentions
        );
    }
}

#[test]
fn every_shipped_descriptor_validates_against_the_descriptor_schema() {
    for file in shipped_descriptors() {
        assert_valid(DESCRIPTOR_XSD, &file);
    }
}

#[test]
fn the_shipped_server_configuration_validates_against_the_server_schema() {
    assert_valid(SERVER_XSD, &workspace_root().join("conf/server.xml"));
}

#[test]
fn the_examples_in_the_references_validate() {
    let scratch = Scratch::new("examples");
    for (reference, schema) in [
        ("conf/descriptor.md", DESCRIPTOR_XSD),
        ("conf/server.md", SERVER_XSD),
    ] {
        let text = std::fs::read_to_string(workspace_root().join(reference))
            .expect("the reference is readable");
        let examples = xml_blocks(&text);
        assert!(!examples.is_empty(), "{reference} has no ```xml example");
        for (index, example) in examples.iter().enumerate() {
            let name = format!("{}-{index}.xml", reference.replace('/', "-"));
            assert_valid(schema, &scratch.write(&name, example));
        }
    }
}

/// The contents of every fenced ```xml block in a Markdown text.
fn xml_blocks(markdown: &str) -> Vec<&str> {
    markdown
        .split("```xml\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .collect()
}

#[test]
fn the_descriptor_schema_rejects_what_berth_check_rejects() {
    let mistakes = [
        Mistake {
            name: "unknown-element",
            text: descriptor_with("<max-sesions>5</max-sesions>"),
            mentions: "max-sesions",
        },
        Mistake {
            name: "malformed-number",
            text: descriptor_with(
                "<max-session-idle-timeout-in-millis>10 minutes</max-session-idle-timeout-in-millis>",
            ),
            mentions: "max-session-idle-timeout-in-millis",
        },
        Mistake {
            name: "negative-size",
            text: descriptor_with(
                "<max-incoming-text-message-buffer-size>-1</max-incoming-text-message-buffer-size>",
            ),
            mentions: "max-incoming-text-message-buffer-size",
        },
        Mistake {
            name: "bad-boolean",
            text: descriptor_with(
                "<distributed-userProperties><enabled>yes</enabled></distributed-userProperties>",
            ),
            mentions: "enabled",
        },
        Mistake {
            name: "zero-max-threads",
            text: descriptor_with("<websocket-executor><max>0</max></websocket-executor>"),
            mentions: "max",
        },
        Mistake {
            name: "repeated-executor-setting",
            text: descriptor_with(
                "<websocket-executor><min>1</min><min>2</min></websocket-executor>",
            ),
            mentions: "min",
        },
        Mistake {
            name: "init-param-declared-twice",
            text: descriptor_with(
                "<init-param><name>a</name></init-param><init-param><name>a</name></init-param>",
            ),
            mentions: "init-param",
        },
        Mistake {
            name: "absolute-endpoint-library",
            text: descriptor_with("<endpoint-library>/opt/echo.so</endpoint-library>"),
            mentions: "endpoint-library",
        },
        Mistake {
            name: "origin-with-path",
            text: descriptor_with(
                "<allowed-origins><origin>https://example.com/</origin></allowed-origins>",
            ),
            mentions: "origin",
        },
        Mistake {
            name: "origin-pattern",
            text: descriptor_with(
                "<allowed-origins><origin>https://*.example.com</origin></allowed-origins>",
            ),
            mentions: "origin",
        },
    ];
    assert_rejected(DESCRIPTOR_XSD, &Scratch::new("descriptor"), &mistakes);
}

#[test]
fn the_server_schema_rejects_what_berth_check_rejects() {
    let mistakes = [
        Mistake {
            name: "unknown-element",
            text: server_with("<lisen>127.0.0.1:8080</lisen>"),
            mentions: "lisen",
        },
        Mistake {
            name: "host-name-listener",
            text: server_with("<listen>localhost:8080</listen>"),
            mentions: "listen",
        },
        Mistake {
            name: "repeated-listener",
            text: server_with("<listen>127.0.0.1:1</listen><listen>127.0.0.1:2</listen>"),
            mentions: "listen",
        },
        Mistake {
            name: "negative-grace",
            text: server_with("<shutdown-grace-in-millis>-1</shutdown-grace-in-millis>"),
            mentions: "shutdown-grace-in-millis",
        },
        Mistake {
            name: "bad-boolean",
            text: server_with("<admin><enabled>maybe</enabled></admin>"),
            mentions: "enabled",
        },
        Mistake {
            name: "unknown-store",
            text: server_with("<session-store><kind>etcd</kind></session-store>"),
            mentions: "kind",
        },
    ];
    assert_rejected(SERVER_XSD, &Scratch::new("server"), &mistakes);
}
