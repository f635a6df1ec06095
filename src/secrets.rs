//! Files whose text must never reach a prompt: environment files, private keys, credential
//! stores. Completion is refused inside them, and (later) context sources skip them.

use std::path::Path;

/// Exact file names (lower-case) that hold credentials.
const SECRET_NAMES: &[&str] = &[
    ".env",
    ".netrc",
    ".pgpass",
    ".htpasswd",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    "credentials",
    "credentials.json",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
];

/// Extensions (lower-case) of key and certificate-store files.
const SECRET_EXTENSIONS: &[&str] =
    &["pem", "key", "p12", "pfx", "jks", "keystore", "ppk", "gpg", "kdbx", "tfvars"];

/// Folders whose whole content is private.
const SECRET_FOLDERS: &[&str] = &[".ssh", ".gnupg", ".aws"];

/// `.env.example` and friends are templates meant to be committed; they are fine.
const TEMPLATE_SUFFIXES: &[&str] = &[".example", ".sample", ".template", ".dist"];

/// Whether `path`, or the file it really is (symlinks resolved), is a secret: a source-named
/// link to `.env` must not be completed with the `.env` text. Reads the file system (no file
/// is opened): call it off the async workers.
pub fn leads_to_secret(path: &Path) -> bool {
    is_secret(path) || std::fs::canonicalize(path).is_ok_and(|real| is_secret(&real))
}

pub fn is_secret(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().to_lowercase()) else {
        return false;
    };
    if TEMPLATE_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) {
        return false;
    }
    let in_secret_folder = path
        .components()
        .any(|c| SECRET_FOLDERS.iter().any(|folder| c.as_os_str().eq_ignore_ascii_case(folder)));
    let extension = path.extension().map(|e| e.to_string_lossy().to_lowercase());
    in_secret_folder
        || SECRET_NAMES.contains(&name.as_str())
        || name.starts_with(".env.")
        || extension.is_some_and(|e| SECRET_EXTENSIONS.contains(&e.as_str()))
}

#[cfg(test)]
mod tests {
    use super::is_secret;
    use std::path::Path;

    #[test]
    fn secrets_are_recognised() {
        for path in [
            ".env",
            "app/.env.production",
            "certs/server.PEM",
            "deploy/tls.key",
            "/home/u/.ssh/config",
            "/home/u/.aws/config",
            "id_ed25519",
            "prod.tfvars",
        ] {
            assert!(is_secret(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn ordinary_files_and_templates_are_not() {
        for path in
            ["src/main.rs", ".env.example", "env.py", "keys.py", "docs/key.md", "Cargo.toml"]
        {
            assert!(!is_secret(Path::new(path)), "{path}");
        }
    }
}
