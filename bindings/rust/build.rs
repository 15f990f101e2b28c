// Finds libcnn for linking: $CNN_LIB_DIR if set, else the `pkg-config` tool
// (the CLI, so the crate needs no crates.io dependency), else the source
// tree's build directories.
use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CNN_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if let Ok(dir) = env::var("CNN_LIB_DIR") {
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:rustc-link-lib=dylib=cnn");
        return;
    }
    if let Ok(out) = Command::new("pkg-config").args(["--libs", "cnn"]).output() {
        if out.status.success() {
            for flag in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    println!("cargo:rustc-link-search=native={dir}");
                } else if let Some(lib) = flag.strip_prefix("-l") {
                    println!("cargo:rustc-link-lib=dylib={lib}");
                }
            }
            return;
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for build in ["build-ffi", "build"] {
        let dir = root.join(build).join("lib");
        if dir.join("libcnn.so").exists() {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=dylib=cnn");
            return;
        }
    }
    panic!("libcnn not found: set CNN_LIB_DIR or PKG_CONFIG_PATH");
}
