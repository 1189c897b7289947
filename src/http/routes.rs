//! The route table: every route is added through [`Routes`], which builds
//! the axum router and, beside it, the list of (method, path) it serves.
//! axum cannot list its routes; the tenancy test and the OpenAPI coverage
//! test read this list instead of the source, so a route added anywhere,
//! nested or merged, is in both the router and the tests by construction.

use std::convert::Infallible;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::MethodRouter;

use super::HttpState;

/// One served route: the method as written in HTTP and the full path
/// with axum's `{parameter}` syntax.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: &'static str,
    pub path: String,
}

/// The methods of one path, with the handlers that serve them.
pub(crate) struct Methods {
    router: MethodRouter<HttpState, Infallible>,
    methods: Vec<&'static str>,
}

macro_rules! method {
    ($name:ident, $verb:literal) => {
        #[doc = concat!("A `", $verb, "` route.")]
        #[allow(dead_code, reason = "not every verb starts a path's methods")]
        pub(crate) fn $name<H, T>(handler: H) -> Methods
        where
            H: Handler<T, HttpState>,
            T: 'static,
        {
            Methods {
                router: axum::routing::$name(handler),
                methods: vec![$verb],
            }
        }

        impl Methods {
            #[doc = concat!("Also serve `", $verb, "` on this path.")]
            pub(crate) fn $name<H, T>(mut self, handler: H) -> Methods
            where
                H: Handler<T, HttpState>,
                T: 'static,
            {
                self.router = self.router.$name(handler);
                self.methods.push($verb);
                self
            }
        }
    };
}

method!(get, "GET");
method!(post, "POST");
method!(delete, "DELETE");

impl Methods {
    /// Uploads check their size while the body streams in, so axum's
    /// fixed body limit is lifted for them.
    pub(crate) fn streamed_body(mut self) -> Methods {
        self.router = self.router.layer(DefaultBodyLimit::disable());
        self
    }
}

/// A router and the table of what it serves.
pub(crate) struct Routes {
    router: Router<HttpState>,
    table: Vec<Route>,
}

impl Routes {
    pub(crate) fn new() -> Routes {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    pub(crate) fn route(mut self, path: &str, methods: Methods) -> Routes {
        self.router = self.router.route(path, methods.router);
        self.table
            .extend(methods.methods.into_iter().map(|method| Route {
                method,
                path: path.to_string(),
            }));
        self
    }

    pub(crate) fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    pub(crate) fn nest(mut self, prefix: &str, other: Routes) -> Routes {
        self.router = self.router.nest(prefix, other.router);
        self.table.extend(other.table.into_iter().map(|r| Route {
            method: r.method,
            path: format!("{prefix}{}", r.path),
        }));
        self
    }

    /// Layers and fallbacks: they change how routes answer, not which.
    pub(crate) fn map(mut self, f: impl FnOnce(Router<HttpState>) -> Router<HttpState>) -> Routes {
        self.router = f(self.router);
        self
    }

    pub(crate) fn into_parts(self) -> (Router<HttpState>, Vec<Route>) {
        (self.router, self.table)
    }
}
