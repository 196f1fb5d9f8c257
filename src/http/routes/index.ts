/** Every route module the server mounts, in order. */
import type { RouteModule } from '../app';
import { metadataRoutes } from './metadata';
import { pasRoutes } from './pas';

export const allRoutes: RouteModule[] = [metadataRoutes, pasRoutes];
