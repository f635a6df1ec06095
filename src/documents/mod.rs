//! Documents stage: the store of open documents kept in sync with the editor
//! (`didOpen`/`didChange`/`didClose`), and the single place where LSP
//! positions are converted to and from rope char indices in the negotiated
//! position encoding.

mod position;
mod store;

pub use position::{
    PositionEncoding, PositionError, char_to_position, chars_to_range, position_to_char,
    range_to_chars,
};
pub use store::{DocumentError, DocumentSnapshot, DocumentStore};
