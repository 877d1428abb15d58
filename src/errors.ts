// Moved to kernel/ (shared by src/ and devices/); this path stays until every branch imports kernel/errors.js.
export * from '../kernel/errors.js';
