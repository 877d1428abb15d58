// Moved to kernel/logRing.ts; this path stays until every branch imports it from there.
export * from '../../kernel/logRing.js';
