/** Every route module the server mounts, in order. */
import type { RouteModule } from '../app';
import { metadataRoutes } from './metadata';
import { pasRoutes } from './pas';
import { policyRoutes } from './policies';

export const allRoutes: RouteModule[] = [metadataRoutes, pasRoutes, policyRoutes];
