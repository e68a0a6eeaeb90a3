/**
 * Publishing signed key directories: the builder, a Hono route, and (in `worker.ts`) a standalone Worker.
 *
 * @module
 */
export {
  type BuildDirectoryOptions,
  buildDirectory,
  cappedMaxAge,
  DIRECTORY_MEDIA_TYPE,
  DIRECTORY_PATH,
  DIRECTORY_SIGNATURE_TAG,
  type DirectoryKey,
  type DirectoryResponse,
} from "./build-directory.ts";
export { DEFAULT_MAX_AUTHORITIES, type DirectoryRouteOptions, directoryRoute } from "./directory-route.ts";
