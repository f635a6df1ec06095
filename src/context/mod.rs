//! Repository context for fill-in-the-middle prompts: which files the current file imports and
//! which identifiers each file defines.

pub mod imports;
pub mod symbols;
