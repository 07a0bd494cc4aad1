//! System machine tests.
