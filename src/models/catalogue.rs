//! The built-in catalogue: short names for FIM-capable GGUF files on the Hugging Face hub.
//!
//! Kept as data so that adding a model is one entry. `size` is what the hub listed when the
//! entry was written, for "how big" before a download starts; the download itself checks the
//! size and sha256 the hub gives at the time.

/// One model the catalogue knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub name: &'static str,
    pub repo: &'static str,
    pub file: &'static str,
    /// Approximate download size in bytes.
    pub size: u64,
    pub licence: &'static str,
    /// The FIM family (`prompt::template`), for the listing; infill reads it from the file.
    pub family: &'static str,
}

/// The model used when none is configured: the one this product is designed around.
pub const DEFAULT: &str = "starcoder2-3b";

const GB: u64 = 1_000_000_000;
const MB: u64 = 1_000_000;

pub const ENTRIES: &[Entry] = &[
    Entry {
        name: "starcoder2-3b",
        repo: "second-state/StarCoder2-3B-GGUF",
        file: "starcoder2-3b-Q4_K_M.gguf",
        size: 1_850 * MB,
        licence: "bigcode-openrail-m",
        family: "starcoder",
    },
    Entry {
        name: "starcoder2-7b",
        repo: "second-state/StarCoder2-7B-GGUF",
        file: "starcoder2-7b-Q4_K_M.gguf",
        size: 4_400 * MB,
        licence: "bigcode-openrail-m",
        family: "starcoder",
    },
    Entry {
        name: "starcoder2-15b",
        repo: "second-state/StarCoder2-15B-GGUF",
        file: "starcoder2-15b-Q4_K_M.gguf",
        size: 9_900 * MB,
        licence: "bigcode-openrail-m",
        family: "starcoder",
    },
    Entry {
        name: "qwen2.5-coder-0.5b",
        repo: "ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF",
        file: "qwen2.5-coder-0.5b-q8_0.gguf",
        size: 531 * MB,
        licence: "apache-2.0",
        family: "qwen",
    },
    Entry {
        name: "qwen2.5-coder-1.5b",
        repo: "ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF",
        file: "qwen2.5-coder-1.5b-q8_0.gguf",
        size: 1_650 * MB,
        licence: "apache-2.0",
        family: "qwen",
    },
    Entry {
        name: "qwen2.5-coder-3b",
        repo: "ggml-org/Qwen2.5-Coder-3B-Q8_0-GGUF",
        file: "qwen2.5-coder-3b-q8_0.gguf",
        size: 3_290 * MB,
        licence: "qwen-research",
        family: "qwen",
    },
    Entry {
        name: "qwen2.5-coder-7b",
        repo: "ggml-org/Qwen2.5-Coder-7B-Q8_0-GGUF",
        file: "qwen2.5-coder-7b-q8_0.gguf",
        size: 8_100 * MB,
        licence: "apache-2.0",
        family: "qwen",
    },
    Entry {
        name: "deepseek-coder-1.3b",
        repo: "TheBloke/deepseek-coder-1.3b-base-GGUF",
        file: "deepseek-coder-1.3b-base.Q4_K_M.gguf",
        size: 874 * MB,
        licence: "deepseek",
        family: "deepseek",
    },
    Entry {
        name: "deepseek-coder-6.7b",
        repo: "TheBloke/deepseek-coder-6.7B-base-GGUF",
        file: "deepseek-coder-6.7b-base.Q4_K_M.gguf",
        size: 4_080 * MB,
        licence: "deepseek",
        family: "deepseek",
    },
    Entry {
        name: "codestral-22b",
        repo: "bartowski/Codestral-22B-v0.1-GGUF",
        file: "Codestral-22B-v0.1-Q4_K_M.gguf",
        size: 13 * GB + 300 * MB,
        licence: "mnpl-0.1",
        family: "codestral",
    },
];

/// The entry called `name` (case-insensitive).
pub fn find(name: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|entry| entry.name.eq_ignore_ascii_case(name))
}

/// `1.9 GB`, `531 MB`.
pub fn human_size(bytes: u64) -> String {
    if bytes >= GB {
        format!("{:.1} GB", bytes as f64 / GB as f64)
    } else {
        format!("{} MB", bytes.div_ceil(MB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_the_default_exists() {
        for (i, entry) in ENTRIES.iter().enumerate() {
            assert!(ENTRIES[i + 1..].iter().all(|other| other.name != entry.name), "{entry:?}");
            assert!(entry.file.ends_with(".gguf") && entry.repo.contains('/'), "{entry:?}");
        }
        assert_eq!(find(DEFAULT).unwrap().file, "starcoder2-3b-Q4_K_M.gguf");
        assert_eq!(find("StarCoder2-3B"), find(DEFAULT));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(531 * MB), "531 MB");
        assert_eq!(human_size(1_850 * MB), "1.9 GB");
    }
}
