// Moved to kernel/ (shared by src/ and devices/); this path stays until every branch imports kernel/log.js.
export * from '../kernel/log.js';
