//! The integration suite: one test binary, modules by area. Everything here
//! starts the real thing: SQLite files, the PostgreSQL server on
//! 127.0.0.1:5432 (`AMTSPOST_TEST_POSTGRES_URL`), an SMTP server, the binary.

mod support;

mod akte;
mod app;
mod browser;
mod circular;
mod cli;
mod concurrency;
mod crash;
mod demo;
mod funds;
mod http;
mod instances;
mod interest;
mod journal;
mod legal;
mod letters;
mod mail;
mod notices;
mod notification;
mod outbox;
mod pages;
mod portal;
mod reminders;
mod replay;
mod seal;
mod security;
mod seed;
mod series;
mod simulate;
mod trust;
mod versioning;
mod xdomea;
