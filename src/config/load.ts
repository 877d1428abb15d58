/**
 * Reads and validates a configuration file. Any problem becomes one KioskError whose
 * message names the file, the key and what is wrong; `kiosk run` prints it and exits 2.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { ErrorCode, KioskError, isKioskError } from '../errors.js';
import { loadUpstreamAccess, resolveUpstreamPaths } from '../upstream/connectOptions.js';
import { configSchema, type KioskConfig } from './schema.js';

export function parseConfig(raw: unknown, file: string): KioskConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new KioskError(ErrorCode.ConfigInvalid, describeIssues(file, result.error.issues), { file });
  }
  const config = result.data;
  const dir = dirname(resolve(file));
  const dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(dir, config.dataDir);
  // CONTRACT §7: "dir:PATH" is relative to the config file's folder, like dataDir.
  const speech = config.accessibility.speech.startsWith('dir:') && !isAbsolute(config.accessibility.speech.slice(4)) ? `dir:${resolve(dir, config.accessibility.speech.slice(4))}` : config.accessibility.speech;
  return { ...config, dataDir, upstream: resolveUpstreamPaths(config.upstream, dir), accessibility: { ...config.accessibility, speech } };
}

export function loadConfigFile(file: string): KioskConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message;
    throw new KioskError(ErrorCode.ConfigMissing, `config ${file}: cannot read it: ${why}`, { file });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new KioskError(ErrorCode.ConfigInvalidJson, `config ${file}: invalid JSON: ${(e as Error).message}`, { file });
  }
  const config = parseConfig(raw, file);
  // The files the config names (password, CA, certificate, key) are part of it: a bad one
  // is a config error naming this file too. The controller reads them again at start.
  try {
    loadUpstreamAccess(config.upstream);
  } catch (e) {
    if (isKioskError(e) && e.code === ErrorCode.ConfigInvalid) throw new KioskError(ErrorCode.ConfigInvalid, e.message.replace(/^config: /, `config ${file}: `), { ...e.context, file });
    throw e;
  }
  return config;
}

function describeIssues(file: string, issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.map((issue) => {
    const base = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => (base === '(top level)' ? k : `${base}.${k}`));
      return `key "${keys.join('", "')}": unknown key`;
    }
    return `key "${base}": ${issue.message}`;
  });
  return `config ${file}: ${lines.join('; ')}`;
}
