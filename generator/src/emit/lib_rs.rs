//! `src/lib.rs`: the crate's library half, so the types and handlers are public items (used
//! by `main.rs`, by tests, and free of dead-code warnings for fields only serde reads).

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Model;

pub fn tokens(model: &Model) -> TokenStream {
    let doc = format!(" {}: tools and handlers of the MCP server.", model.title);
    quote! {
        #![doc = #doc]
        pub mod handlers;
        pub mod tools;
    }
}
