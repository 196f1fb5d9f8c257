/**
 * The one Express error middleware: every failure becomes a FHIR OperationOutcome (or, on CDS
 * Hooks routes, the same OperationOutcome, which CDS Hooks clients accept as an error body).
 * Body-parser failures (bad JSON, body too large, wrong charset) map to 4xx; anything else is a
 * 500 with a generic text and a request id — details go to the log, never to the client.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { badRequest, isOperationOutcomeError, notFound, serverError, tooLarge, unsupportedMediaType, type OperationOutcomeError } from '../fhir/outcomes';
import type { Logger } from '../logger';

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
}

function fromBodyParser(error: BodyParserError): OperationOutcomeError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      return badRequest('The request body is not valid JSON.', undefined, 'structure');
    case 'entity.too.large':
      return tooLarge('The request body is larger than this server accepts.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return unsupportedMediaType('The request body encoding is not supported; send UTF-8 JSON.');
    case 'request.aborted':
      return badRequest('The request was aborted before its body was received.', undefined, 'incomplete');
    default:
      return undefined;
  }
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const requestId = String(res.locals.requestId ?? 'unknown');
    let answer: OperationOutcomeError;
    if (isOperationOutcomeError(error)) {
      answer = error;
    } else {
      const mapped = error && typeof error === 'object' ? fromBodyParser(error as BodyParserError) : undefined;
      if (mapped) {
        answer = mapped;
      } else {
        logger.error('unhandled error', { requestId, method: req.method, path: req.path, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
        answer = serverError(requestId);
      }
    }
    res.status(answer.status).type('application/fhir+json').send(JSON.stringify(answer.outcome));
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(notFound(`No route for ${req.method} ${req.path}`));
};
